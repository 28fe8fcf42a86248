#!/bin/sh
# Remove this VisionCap installation: the install folder, the menu entry, the icon and the
# visioncap-cli link that install.sh made; the menu and icon caches are refreshed.
#
#   <install folder>/uninstall.sh           keeps your settings, caption stores and models
#   <install folder>/uninstall.sh --purge   also deletes them (~/.config/VisionCap,
#                                           ~/.local/share/VisionCap, ~/.cache/VisionCap) and
#                                           whatever else install.sh created: folders that were
#                                           not there before and are empty now, the icon-theme
#                                           and menu caches it made
set -eu

target=$(cd "$(dirname "$0")" && pwd)
purge=no
case "${1:-}" in
    --purge) purge=yes ;;
    "") ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
esac

if [ ! -x "$target/VisionCap" ]; then
    echo "uninstall.sh: $target does not look like a VisionCap installation" >&2
    exit 1
fi

locations=$target/.install-locations
setting() {
    [ -f "$locations" ] && sed -n "s/^$1=//p" "$locations" || true
}
share_dir=$(setting share_dir)
bin_dir=$(setting bin_dir)
created_dirs=$(setting created_dir)
icon_cache=$(setting created_icon_cache)
mime_cache=$(setting created_mime_cache)

if [ -n "$share_dir" ]; then
    icons=$share_dir/icons/hicolor
    rm -f "$share_dir/applications/visioncap.desktop" "$icons/256x256/apps/visioncap.png"
    if [ "$purge" = yes ] && [ "$mime_cache" = yes ]; then
        rm -f "$share_dir/applications/mimeinfo.cache"
    else
        command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$share_dir/applications" || true
    fi
    if [ "$purge" = yes ] && [ "$icon_cache" = yes ]; then
        rm -f "$icons/icon-theme.cache"
    elif [ -e "$icons/icon-theme.cache" ]; then
        command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$icons" || true
    fi
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
    # the folders install.sh created, deepest first, where nothing else has moved in since
    printf '%s\n' "$created_dirs" | sort -r | while IFS= read -r dir; do
        [ -n "$dir" ] && rmdir "$dir" 2>/dev/null && echo "Removed $dir" || true
    done
else
    echo "Your settings, caption stores and models are kept; run with --purge to delete them too."
fi
