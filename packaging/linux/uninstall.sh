#!/bin/sh
# Remove this VisionCap installation: the install folder, the menu entry, the icon and the
# visioncap-cli link that install.sh made.
#
#   <install folder>/uninstall.sh           keeps your settings, caption stores and models
#   <install folder>/uninstall.sh --purge   also deletes them (~/.config/VisionCap,
#                                           ~/.local/share/VisionCap, ~/.cache/VisionCap)
set -eu

target=$(cd "$(dirname "$0")" && pwd)
purge=no
case "${1:-}" in
    --purge) purge=yes ;;
    "") ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
esac

if [ ! -x "$target/VisionCap" ]; then
    echo "uninstall.sh: $target does not look like a VisionCap installation" >&2
    exit 1
fi

share_dir="" bin_dir=""
if [ -f "$target/.install-locations" ]; then
    share_dir=$(sed -n 's/^share_dir=//p' "$target/.install-locations")
    bin_dir=$(sed -n 's/^bin_dir=//p' "$target/.install-locations")
fi
if [ -n "$share_dir" ]; then
    rm -f "$share_dir/applications/visioncap.desktop" "$share_dir/icons/hicolor/256x256/apps/visioncap.png"
    command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$share_dir/applications" || true
fi
if [ -n "$bin_dir" ] && [ -L "$bin_dir/visioncap-cli" ]; then
    rm -f "$bin_dir/visioncap-cli"
fi
rm -rf "$target"
echo "Removed $target"

if [ "$purge" = yes ]; then
    for dir in "${XDG_CONFIG_HOME:-$HOME/.config}/VisionCap" \
               "${XDG_DATA_HOME:-$HOME/.local/share}/VisionCap" \
               "${XDG_CACHE_HOME:-$HOME/.cache}/VisionCap"; do
        if [ -d "$dir" ]; then
            rm -rf "$dir"
            echo "Removed $dir"
        fi
    done
else
    echo "Your settings, caption stores and models are kept; run with --purge to delete them too."
fi
