; Inno Setup 6 script for VisionCap on Windows.
;
; packaging/build.py runs it after PyInstaller, passing the values below with /D:
;   ISCC /DAppVersion=0.1.0 /DSourceDir=...\dist\VisionCap /DOutputDir=...\dist ^
;        /DOutputBaseName=VisionCap-0.1.0-windows-x86_64-cpu-setup /DDiskSpanning=no visioncap.iss
; Without them it builds dist\VisionCap from a checkout (paths relative to this file).
;
; Installs into Program Files (or, if the user chooses, their own programs folder), adds Start
; menu entries for the app and its uninstaller, and registers an uninstaller that can also delete
; the user's VisionCap data (%LOCALAPPDATA%\VisionCap: settings, caption stores, models, cache).

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\VisionCap"
#endif
#ifndef OutputDir
  #define OutputDir "..\..\dist"
#endif
#ifndef OutputBaseName
  #define OutputBaseName "VisionCap-" + AppVersion + "-windows-setup"
#endif
#ifndef IconFile
  #define IconFile "..\icons\visioncap.ico"
#endif
#ifndef DiskSpanning
  #define DiskSpanning "no"
#endif

#define AppName "VisionCap"
#define AppExe "VisionCap.exe"
#define CliExe "visioncap-cli.exe"

[Setup]
; AppId identifies the app for upgrades and the uninstaller: never change it
AppId={{6C3E2F1A-9B4D-4E57-8A21-5D7C0B9E4F38}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher=VisionCap
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir={#OutputDir}
OutputBaseFilename={#OutputBaseName}
SetupIconFile={#IconFile}
UninstallDisplayIcon={app}\{#AppExe}
UninstallDisplayName={#AppName}
Compression=lzma2/normal
SolidCompression=yes
LZMAUseSeparateProcess=yes
; setup.exe cannot exceed about 2 GB; the CUDA variant is split into setup-N.bin files
DiskSpanning={#DiskSpanning}
#if DiskSpanning == "yes"
DiskSliceSize=max
#endif
WizardStyle=modern
CloseApplications=yes

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\{#AppExe}"
Name: "{group}\{#AppName} self-test"; Filename: "{cmd}"; Parameters: "/k ""{app}\{#CliExe}"" --self-test"; IconFilename: "{app}\{#AppExe}"
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExe}"; Tasks: desktopicon

[Run]
Filename: "{app}\{#AppExe}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[Code]
{ After the files are gone, offer to delete the user's data too (never in a silent uninstall).
  platformdirs puts settings, caption stores, models and the cache under %LOCALAPPDATA%\VisionCap. }
procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
var
  DataDir: String;
begin
  if CurUninstallStep = usPostUninstall then
  begin
    DataDir := ExpandConstant('{localappdata}\{#AppName}');
    if DirExists(DataDir) and not UninstallSilent then
      if MsgBox('Also delete your VisionCap settings, caption stores and downloaded models?' + #13#10 + #13#10 + DataDir,
                mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES then
        DelTree(DataDir, True, True, True);
  end;
end;
