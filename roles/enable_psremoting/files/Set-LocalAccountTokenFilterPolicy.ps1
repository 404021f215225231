# psremoting.core enable_psremoting: LocalAccountTokenFilterPolicy (remote UAC filtering of local
# administrators), sent by invoke_command with the wanted value as a typed parameter. Reports the
# change and the diff ($Ansible, as ansible.windows.win_powershell); in check mode (-WhatIf) it
# changes nothing. A missing value is a non-terminating error of the registry provider, suppressed.
[CmdletBinding(SupportsShouldProcess = $true)]
param(
    [Parameter(Mandatory = $true)][int]$Value
)
$path = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System'
$current = Get-ItemProperty -Path $path -Name LocalAccountTokenFilterPolicy -ErrorAction SilentlyContinue
$before = $null
if ($null -ne $current) {
    $before = [int]$current.LocalAccountTokenFilterPolicy
}
$Ansible.Changed = $before -ne $Value
$Ansible.Diff = @{
    before = @{ LocalAccountTokenFilterPolicy = $before }
    after = @{ LocalAccountTokenFilterPolicy = $Value }
}
if ($Ansible.Changed -and $PSCmdlet.ShouldProcess($path, "Set LocalAccountTokenFilterPolicy to $Value")) {
    $null = New-ItemProperty -Path $path -Name LocalAccountTokenFilterPolicy -PropertyType DWord -Value $Value -Force
}
