# imlink runbook for plan 17bd94007a5999e31f1cdd1446253b0b5888f39edf5c11c652b9fabc40a3d21e: turn IM in OWA off, SiteId Redmond.
# Run in one PowerShell session that has the Lync Server and Exchange management shells loaded.
# Only the steps the plan will change are run; the others are listed as comments.
$ErrorActionPreference = 'Stop'

# Step 1: Turn IM off in OWA's front-end virtual directories (will change)
$output = & {
Get-OwaVirtualDirectory | Set-OwaVirtualDirectory -InstantMessagingEnabled $False
}
$output

# Step 2: Remove IMCertificateThumbprint and IMServerName from OWA's web.config on atl-mbx-001.litwareinc.com (will change)
$output = & {
Invoke-Command -ComputerName 'atl-mbx-001.litwareinc.com' -ScriptBlock {
$path = Join-Path $env:ExchangeInstallPath 'ClientAccess\Owa\web.config'
Copy-Item -LiteralPath $path -Destination ($path + '.imlink-' + (Get-Date -Format 'yyyyMMddHHmmss') + '.bak')
$config = [xml](Get-Content -LiteralPath $path -Raw)
$settings = $config.SelectSingleNode('/configuration/appSettings')
@($settings.ChildNodes | Where-Object { $_.key -eq 'IMCertificateThumbprint' }) | ForEach-Object { [void]$settings.RemoveChild($_) }
@($settings.ChildNodes | Where-Object { $_.key -eq 'IMServerName' }) | ForEach-Object { [void]$settings.RemoveChild($_) }
$config.Save($path)
}
}
$output

# Step 3: Recycle MSExchangeOWAAppPool on atl-mbx-001.litwareinc.com (will change)
$output = & {
Invoke-Command -ComputerName 'atl-mbx-001.litwareinc.com' -ScriptBlock {
C:\Windows\System32\Inetsrv\Appcmd.exe recycle apppool /apppool.name:"MSExchangeOWAAppPool"
}
}
$output
if (-not (($output | Out-String).Contains('"MSExchangeOWAAppPool" successfully recycled'))) { throw 'Step 3 did not print the expected output: "MSExchangeOWAAppPool" successfully recycled' }

# Step 4: Turn IM off in every OWA mailbox policy (will change)
$output = & {
Get-OwaMailboxPolicy | Set-OwaMailboxPolicy -InstantMessagingEnabled $False
}
$output
