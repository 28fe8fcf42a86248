# Sign Windows executables with signtool and a code-signing certificate (.pfx), timestamped.
# The release workflow runs it only when the secrets exist:
#   $env:CERT_PFX_BASE64  the certificate and its key, base64 (secret WINDOWS_CERT_PFX_BASE64)
#   $env:CERT_PASSWORD    its password (secret WINDOWS_CERT_PASSWORD)
#   ./packaging/windows/sign.ps1 FILE...
# For Azure Trusted Signing instead, see docs/packaging.md.
param([Parameter(Mandatory = $true, ValueFromRemainingArguments = $true)][string[]]$Files)
$ErrorActionPreference = 'Stop'
$signtool = Get-ChildItem "${env:ProgramFiles(x86)}\Windows Kits\10\bin\*\x64\signtool.exe" |
    Sort-Object FullName | Select-Object -Last 1
if (-not $signtool) { throw "sign.ps1: signtool.exe not found under Windows Kits\10\bin" }
$pfx = Join-Path $env:RUNNER_TEMP 'visioncap-signing.pfx'
[IO.File]::WriteAllBytes($pfx, [Convert]::FromBase64String($env:CERT_PFX_BASE64))
try {
    & $signtool.FullName sign /f $pfx /p $env:CERT_PASSWORD /fd SHA256 /tr http://timestamp.digicert.com /td SHA256 $Files
    if ($LASTEXITCODE) { throw "sign.ps1: signtool exited with $LASTEXITCODE" }
    & $signtool.FullName verify /pa $Files
    if ($LASTEXITCODE) { throw "sign.ps1: the signature does not verify ($LASTEXITCODE)" }
} finally {
    Remove-Item -Force $pfx
}
