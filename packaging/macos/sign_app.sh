#!/bin/sh
# Sign VisionCap.app with a Developer ID Application certificate and the hardened runtime, as
# notarisation requires: every Mach-O file inside first, then the executables
# with packaging/macos/entitlements.plist, then the bundle. The release workflow runs it only
# when the secrets exist:
#   MACOS_CERT_P12_BASE64   the certificate and its key (.p12), base64
#   MACOS_CERT_PASSWORD     its password
#   MACOS_SIGNING_IDENTITY  "Developer ID Application: NAME (TEAMID)"
#   packaging/macos/sign_app.sh dist/VisionCap.app
set -eu
app=$1
here=$(cd "$(dirname "$0")" && pwd)
tmp=${RUNNER_TEMP:-${TMPDIR:-/tmp}}
keychain=$tmp/visioncap-signing.keychain-db
keychain_password=$(openssl rand -base64 24)

security create-keychain -p "$keychain_password" "$keychain"
trap 'security delete-keychain "$keychain"; rm -f "$tmp/visioncap-signing.p12"' EXIT
security set-keychain-settings -lut 21600 "$keychain"
security unlock-keychain -p "$keychain_password" "$keychain"
printf '%s' "$MACOS_CERT_P12_BASE64" | base64 --decode > "$tmp/visioncap-signing.p12"
security import "$tmp/visioncap-signing.p12" -P "$MACOS_CERT_PASSWORD" -A -t cert -f pkcs12 -k "$keychain"
security set-key-partition-list -S apple-tool:,apple: -k "$keychain_password" "$keychain" >/dev/null
security list-keychains -d user -s "$keychain"

sign() {
    codesign --force --timestamp --options runtime --keychain "$keychain" --sign "$MACOS_SIGNING_IDENTITY" "$@"
}
# every Mach-O file inside (extension modules, dylibs, Qt's and Python's framework binaries,
# which have no suffix), deepest first; then the executables and the bundle
find "$app/Contents" -type f ! -path "$app/Contents/MacOS/*" | sort -r | while IFS= read -r file; do
    case $(file -b "$file") in
        Mach-O*) sign "$file" ;;
    esac
done
for exe in "$app/Contents/MacOS/"*; do
    [ -L "$exe" ] || sign --entitlements "$here/entitlements.plist" "$exe"
done
sign --entitlements "$here/entitlements.plist" "$app"
codesign --verify --deep --strict --verbose=2 "$app"
