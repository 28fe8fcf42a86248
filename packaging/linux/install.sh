#!/bin/sh
# Install VisionCap from this unpacked archive.
#
#   ./install.sh                  for yourself: ~/.local/opt/VisionCap, a menu entry, and
#                                 visioncap-cli in ~/.local/bin
#   sudo ./install.sh             for everyone: /opt/VisionCap, /usr/share/applications, /usr/local/bin
#   ./install.sh --prefix DIR     into DIR/VisionCap instead
#   ./install.sh --no-self-test   skip the self-test at the end
#
# First it checks that this system's glibc is as new as the build needs (recorded in the build:
# VisionCap/_internal/visioncap-build.json) and installs nothing, exit 3, when it is older.
# Installing again replaces the previous installation. Your settings, caption stores and models
# live in your own folders (~/.config/VisionCap, ~/.local/share/VisionCap, ~/.cache/VisionCap) and
# are never touched. Then it checks for the system libraries the window needs (the app's own
# --check-system) and runs the self-test with a throw-away home folder; it exits 1 when that fails.
# To remove VisionCap: <install folder>/uninstall.sh [--purge].
set -eu

here=$(cd "$(dirname "$0")" && pwd)
app_name=VisionCap
self_test=yes

if [ "$(id -u)" = 0 ]; then
    prefix=/opt
    bin_dir=/usr/local/bin
    share_dir=/usr/share
else
    prefix=${HOME}/.local/opt
    bin_dir=${HOME}/.local/bin
    share_dir=${XDG_DATA_HOME:-${HOME}/.local/share}
fi

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=$2; shift 2 ;;
        --bin-dir) bin_dir=$2; shift 2 ;;
        --share-dir) share_dir=$2; shift 2 ;;
        --no-self-test) self_test=no; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

source_dir=$here/$app_name
target=$prefix/$app_name
if [ ! -x "$source_dir/$app_name" ]; then
    echo "install.sh: $source_dir/$app_name is missing; run this script from the unpacked archive" >&2
    exit 1
fi
if [ -e "$target" ] && [ ! -x "$target/$app_name" ]; then
    echo "install.sh: $target exists and is not a VisionCap installation; not replacing it" >&2
    exit 1
fi

# glibc before anything is copied: the frozen Python and its libraries were linked against the
# build machine's, and an older one cannot even start them (the app says the same line)
version_at_least() {  # MAJOR.MINOR $1 >= $2
    have_major=${1%%.*} have_minor=${1#*.} need_major=${2%%.*} need_minor=${2#*.}
    have_minor=${have_minor%%.*} need_minor=${need_minor%%.*}
    [ "$have_major" -gt "$need_major" ] || { [ "$have_major" -eq "$need_major" ] && [ "$have_minor" -ge "$need_minor" ]; }
}
build_info=$source_dir/_internal/visioncap-build.json
needed=$(sed -n 's/^ *"glibc": *"\([0-9][0-9.]*\)".*/\1/p' "$build_info" 2>/dev/null || true)
if [ -n "$needed" ]; then
    distributions=$(sed -n 's/^ *"distributions": *"\([^"]*\)".*/\1/p' "$build_info")
    have=$(getconf GNU_LIBC_VERSION 2>/dev/null | sed -n 's/^glibc \([0-9][0-9.]*\).*/\1/p' || true)
    if [ -z "$have" ] || ! version_at_least "$have" "$needed"; then
        found="glibc $have"
        [ -n "$have" ] || found="no glibc (another C library)"
        echo "install.sh: VisionCap needs glibc $needed or newer ($distributions); this system has $found; nothing was installed" >&2
        exit 3
    fi
fi

# menu entry and icon; what did not exist before is recorded, so that uninstall.sh --purge
# removes exactly what this made (folders, the icon-theme and MIME caches)
icons=$share_dir/icons/hicolor
created=""
for dir in "$prefix" "$share_dir/applications" "$icons/256x256/apps" "$bin_dir"; do
    while [ ! -d "$dir" ]; do  # the folder and each parent that mkdir -p will make
        created="$dir
$created"
        dir=$(dirname "$dir")
    done
done
icon_cache=no mime_cache=no
[ -e "$icons/icon-theme.cache" ] || icon_cache=yes
[ -e "$share_dir/applications/mimeinfo.cache" ] || mime_cache=yes
old=$target/.install-locations
if [ -f "$old" ]; then  # installed before: what that install made is still this one's to remove
    [ "$(sed -n 's/^created_icon_cache=//p' "$old")" = yes ] && icon_cache=yes
    [ "$(sed -n 's/^created_mime_cache=//p' "$old")" = yes ] && mime_cache=yes
    created="$created$(sed -n 's/^created_dir=//p' "$old")"
fi

echo "Installing $app_name into $target"
mkdir -p "$prefix"
rm -rf "$target.new"
cp -a "$source_dir" "$target.new"
cp "$here/uninstall.sh" "$target.new/uninstall.sh"
chmod 755 "$target.new/uninstall.sh"
rm -rf "$target"
mv "$target.new" "$target"

# menu entry and icon
mkdir -p "$share_dir/applications" "$icons/256x256/apps"
cp "$here/visioncap.png" "$icons/256x256/apps/visioncap.png"
sed "s|@INSTALL_DIR@|$target|g" "$here/visioncap.desktop" > "$share_dir/applications/visioncap.desktop"
chmod 644 "$share_dir/applications/visioncap.desktop"

# the console twin on PATH
mkdir -p "$bin_dir"
ln -sf "$target/visioncap-cli" "$bin_dir/visioncap-cli"

command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$share_dir/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$icons" || true
[ -e "$icons/icon-theme.cache" ] || icon_cache=no
[ -e "$share_dir/applications/mimeinfo.cache" ] || mime_cache=no

# the uninstaller needs to know where the menu entry and the link went, and what was new
{
    echo "share_dir=$share_dir"
    echo "bin_dir=$bin_dir"
    echo "created_icon_cache=$icon_cache"
    echo "created_mime_cache=$mime_cache"
    printf '%s\n' "$created" | sort -u | sed -n 's/^\(.\)/created_dir=\1/p'
} > "$target/.install-locations"

echo "Installed. Start VisionCap from the application menu, or run $target/$app_name"
case ":${PATH}:" in
    *":$bin_dir:"*) echo "Command line: visioncap-cli caption FOLDER --model demo --out captions.csv" ;;
    *) echo "Command line: $bin_dir/visioncap-cli (add $bin_dir to PATH to type just visioncap-cli)" ;;
esac

# the libraries the window needs and no build can bring (libGL, libEGL, libxcb or Wayland's):
# the app's own check prints each missing one with its install command
check=0
"$target/visioncap-cli" --check-system || check=$?
case $check in
    0) ;;
    7) echo "VisionCap is installed, but the window needs the libraries above." ;;
    *) echo "install.sh: VisionCap is installed in $target, but its system check failed (exit $check, see above)" >&2 ;;
esac

if [ "$self_test" = yes ]; then
    echo "Running the self-test (a few seconds; it writes only to a temporary folder)..."
    home=$(mktemp -d)
    if VISIONCAP_HOME=$home QT_QPA_PLATFORM=offscreen "$target/visioncap-cli" --self-test; then
        rm -rf "$home"
    else
        rm -rf "$home"
        echo "install.sh: the self-test failed (see above); VisionCap is installed in $target" >&2
        exit 1
    fi
fi
