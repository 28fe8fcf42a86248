#!/bin/sh
# Install VisionCap from this unpacked archive.
#
#   ./install.sh                  for yourself: ~/.local/opt/VisionCap, a menu entry, and
#                                 visioncap-cli in ~/.local/bin
#   sudo ./install.sh             for everyone: /opt/VisionCap, /usr/share/applications, /usr/local/bin
#   ./install.sh --prefix DIR     into DIR/VisionCap instead
#
# Installing again replaces the previous installation. Your settings, caption stores and models
# live in your own folders (~/.config/VisionCap, ~/.local/share/VisionCap, ~/.cache/VisionCap) and
# are never touched. To remove VisionCap: <install folder>/uninstall.sh [--purge].
set -eu

here=$(cd "$(dirname "$0")" && pwd)
app_name=VisionCap

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
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
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

echo "Installing $app_name into $target"
mkdir -p "$prefix"
rm -rf "$target.new"
cp -a "$source_dir" "$target.new"
cp "$here/uninstall.sh" "$target.new/uninstall.sh"
chmod 755 "$target.new/uninstall.sh"
rm -rf "$target"
mv "$target.new" "$target"

# menu entry and icon
mkdir -p "$share_dir/applications" "$share_dir/icons/hicolor/256x256/apps"
cp "$here/visioncap.png" "$share_dir/icons/hicolor/256x256/apps/visioncap.png"
sed "s|@INSTALL_DIR@|$target|g" "$here/visioncap.desktop" > "$share_dir/applications/visioncap.desktop"
chmod 644 "$share_dir/applications/visioncap.desktop"

# the console twin on PATH
mkdir -p "$bin_dir"
ln -sf "$target/visioncap-cli" "$bin_dir/visioncap-cli"

# the uninstaller needs to know where the menu entry and the link went
cat > "$target/.install-locations" <<EOF
share_dir=$share_dir
bin_dir=$bin_dir
EOF

command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database -q "$share_dir/applications" || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q -t "$share_dir/icons/hicolor" || true

# the Qt xcb platform plug-in needs these; warn rather than fail (a Wayland session may not)
missing=""
for lib in libxcb-cursor.so.0 libxcb-icccm.so.4 libxcb-keysyms.so.1; do
    if ! { ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q "$lib"; then
        missing="$missing $lib"
    fi
done
if [ -n "$missing" ]; then
    echo "Note: the window needs system libraries that are not installed:$missing"
    echo "  Debian/Ubuntu: sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"
    echo "  Fedora:        sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms"
    echo "  openSUSE:      sudo zypper install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"
fi

echo "Done. Start VisionCap from the application menu, or run $target/$app_name"
case ":${PATH}:" in
    *":$bin_dir:"*) echo "Command line: visioncap-cli caption FOLDER --model demo --out captions.csv" ;;
    *) echo "Command line: $bin_dir/visioncap-cli (add $bin_dir to PATH to type just visioncap-cli)" ;;
esac
