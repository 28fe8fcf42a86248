#!/bin/sh
# Remove this VisionCap installation: the install folder, the menu entry, the icon and the
# visioncap-cli link that install.sh made; the menu and icon caches are refreshed.
#
#   <install folder>/uninstall.sh           keeps your settings, caption stores and models
#   <install folder>/uninstall.sh --purge   also deletes them (~/.config/VisionCap,
#                                           ~/.local/share/VisionCap, ~/.cache/VisionCap: Qt's
#                                           dialog settings and torch's compile cache included)
#                                           and whatever else install.sh created: folders that
#                                           were not there before and are empty now, the
#                                           icon-theme and menu caches it made
#
# Under sudo, "your" data is that of the user who ran sudo (SUDO_USER, home folder from the
# user database), not root's. Whatever --purge leaves is listed with where it is.
set -eu

target=$(cd "$(dirname "$0")" && pwd)
purge=no
case "${1:-}" in
    --purge) purge=yes ;;
    "") ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
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

# whose data: under sudo the invoking user's (sudo sets HOME to root's and drops their XDG_*
# variables), otherwise this user's own
user=$(id -un 2>/dev/null || echo "${USER:-}")
user_home=$HOME
config=${XDG_CONFIG_HOME:-$HOME/.config}
data=${XDG_DATA_HOME:-$HOME/.local/share}
cache=${XDG_CACHE_HOME:-$HOME/.cache}
under_sudo=no
if [ "$(id -u)" = 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    under_sudo=yes
    user=$SUDO_USER
    user_home=$(getent passwd "$SUDO_USER" 2>/dev/null | cut -d: -f6 || true)
    config=$user_home/.config data=$user_home/.local/share cache=$user_home/.cache
fi

if [ "$purge" = yes ]; then
    if [ -z "$user_home" ]; then
        # shellcheck disable=SC2088 # the folders as that user would type them
        echo "Left: the data of $user, whose home folder the user database does not know: remove" \
             "~/.config/VisionCap ~/.local/share/VisionCap ~/.cache/VisionCap as that user"
    else
        for dir in "$config/VisionCap" "$data/VisionCap" "$cache/VisionCap"; do
            if [ -d "$dir" ]; then
                rm -rf "$dir"
                echo "Removed $dir"
            fi
        done
        # what Qt and torch keep for every program that uses them: this VisionCap keeps its own
        # inside its folders above, but an older one (or another program) may have made these
        if [ -f "$config/QtProject.conf" ]; then
            echo "Left: $config/QtProject.conf (Qt's file-dialog settings, shared by every Qt program;" \
                 "this VisionCap keeps its own in $config/VisionCap)"
        fi
        inductor=${TMPDIR:-/tmp}/torchinductor_$user
        if [ -d "$inductor" ]; then
            echo "Left: $inductor (PyTorch's compile cache, shared by every PyTorch program, emptied at" \
                 "reboot; this VisionCap keeps its own in $cache/VisionCap)"
        fi
        if [ "$under_sudo" = yes ]; then
            echo "Left: any VisionCap folders $user keeps outside $user_home/.config, .local/share and" \
                 ".cache (XDG_CONFIG_HOME, XDG_DATA_HOME or XDG_CACHE_HOME set elsewhere, which sudo hides)"
        fi
    fi
    if [ "$(id -u)" = 0 ]; then
        echo "Left: other users' VisionCap data; each can remove it with" \
             "rm -rf ~/.config/VisionCap ~/.local/share/VisionCap ~/.cache/VisionCap"
    fi
    # the folders install.sh created, deepest first, where nothing else has moved in since
    printf '%s\n' "$created_dirs" | sort -r | while IFS= read -r dir; do
        [ -n "$dir" ] && rmdir "$dir" 2>/dev/null && echo "Removed $dir" || true
    done
else
    kept=""
    for dir in "$config/VisionCap" "$data/VisionCap" "$cache/VisionCap"; do
        [ -d "$dir" ] && kept="$kept $dir"
    done
    if [ -n "$kept" ]; then
        echo "Kept your settings, caption stores and models in$kept; run with --purge to delete them too."
    fi
fi
