# imlink runbook for integration plan 728936bd3233bd4cfb62d1a27c9a51ed7e81e0ca48dc1f6d4a5f241656701604
# OWA trusted application pool atl-owa-001.litwareinc.com, Lync registrar pool atl-cs-001.litwareinc.com, SiteId Redmond.
# Run in one PowerShell session that has the Lync Server and Exchange management shells loaded.
# Only the steps the plan will change are run; the others are listed as comments.
$ErrorActionPreference = 'Stop'

# Step 1: Create the trusted application pool atl-owa-001.litwareinc.com (will change)
$output = & {
New-CsTrustedApplicationPool -Identity 'atl-owa-001.litwareinc.com' -Registrar 'atl-cs-001.litwareinc.com' -Site 'Redmond' -RequiresReplication $False
}
$output

# Step 2: Create the trusted application OutlookWebApp on port 5199 (will change)
$output = & {
New-CsTrustedApplication -ApplicationId 'OutlookWebApp' -TrustedApplicationPoolFqdn 'atl-owa-001.litwareinc.com' -Port 5199
}
$output

# Step 3: Publish the Lync topology (will change)
$output = & {
Enable-CsTopology
}
$output

# Step 4: Add the Exchange Client Access and Mailbox servers to every SIP URI dial plan (will change)
$output = & {
Set-UMCallRouterSettings -Server 'atl-owa-001.litwareinc.com' -DialPlans @{Add='RedmondDialPlan'}
}
$output

# Step 5: Turn on Lync instant messaging in OWA's front-end virtual directories (will change)
$output = & {
Get-OwaVirtualDirectory | Set-OwaVirtualDirectory -InstantMessagingEnabled $True -InstantMessagingType OCS
}
$output

# Step 6: Set IMCertificateThumbprint and IMServerName in OWA's web.config on atl-mbx-001.litwareinc.com (will change)
$output = & {
Invoke-Command -ComputerName 'atl-mbx-001.litwareinc.com' -ScriptBlock {
$path = Join-Path $env:ExchangeInstallPath 'ClientAccess\Owa\web.config'
Copy-Item -LiteralPath $path -Destination ($path + '.imlink-' + (Get-Date -Format 'yyyyMMddHHmmss') + '.bak')
$config = [xml](Get-Content -LiteralPath $path -Raw)
$settings = $config.SelectSingleNode('/configuration/appSettings')
$node = @($settings.ChildNodes | Where-Object { $_.key -eq 'IMCertificateThumbprint' })[0]; if ($null -eq $node) { $node = $config.CreateElement('add'); $node.SetAttribute('key', 'IMCertificateThumbprint'); [void]$settings.AppendChild($node) }; $node.SetAttribute('value', 'EA5A332496CC05DA69B75B66111C0F78A110D22D')
$node = @($settings.ChildNodes | Where-Object { $_.key -eq 'IMServerName' })[0]; if ($null -eq $node) { $node = $config.CreateElement('add'); $node.SetAttribute('key', 'IMServerName'); [void]$settings.AppendChild($node) }; $node.SetAttribute('value', 'atl-cs-001.litwareinc.com')
$config.Save($path)
}
}
$output

# Step 7: Recycle MSExchangeOWAAppPool on atl-mbx-001.litwareinc.com (will change)
$output = & {
Invoke-Command -ComputerName 'atl-mbx-001.litwareinc.com' -ScriptBlock {
C:\Windows\System32\Inetsrv\Appcmd.exe recycle apppool /apppool.name:"MSExchangeOWAAppPool"
}
}
$output
if (-not (($output | Out-String).Contains('"MSExchangeOWAAppPool" successfully recycled'))) { throw 'Step 7 did not print the expected output: "MSExchangeOWAAppPool" successfully recycled' }

# Step 8: Enable Lync instant messaging in Default (will change)
$output = & {
Set-OwaMailboxPolicy -Identity 'Default' -InstantMessagingEnabled $True -InstantMessagingType 'OCS'
}
$output
