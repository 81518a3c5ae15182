; Inno Setup script around the PyInstaller folder dist\workbench (built by the CI workflow).
[Setup]
AppName=Workbench
AppVersion=0.1.0
AppPublisher=Workbench developers
DefaultDirName={autopf}\Workbench
DefaultGroupName=Workbench
OutputDir=..\..\dist
OutputBaseFilename=workbench-0.1.0-setup
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
Compression=lzma2/fast
SolidCompression=no
DisableProgramGroupPage=yes

[Files]
Source: "..\..\dist\workbench\*"; DestDir: "{app}"; Flags: recursesubdirs createallsubdirs ignoreversion

[Icons]
Name: "{autoprograms}\Workbench"; Filename: "{app}\workbench.exe"
Name: "{autodesktop}\Workbench"; Filename: "{app}\workbench.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "Create a desktop shortcut"; Flags: unchecked

[Run]
Filename: "{app}\workbench.exe"; Description: "Start Workbench"; Flags: nowait postinstall skipifsilent
