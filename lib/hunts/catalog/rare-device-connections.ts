import { defineHunt } from "../schema.js";

export default defineHunt({
  id: "rare-device-connections",
  title: "Rare outbound connections per device and process",
  description:
    "Connections from Defender DeviceNetworkEvents grouped by device, initiating process, remote address and port. A connection is rare when the device and process have never made it before (novelty against the device's own history) and few other devices ever reach that remote endpoint (prevalence across the population). Remote-access and lateral-movement ports (RDP, SMB, RPC, WinRM, SSH, VNC, AD web services) weigh more.",
  mitre: { tactics: ["Lateral Movement", "Command and Control"], techniques: ["T1021", "T1021.001", "T1021.002", "T1021.006", "T1071"] },
  severity: "medium",
  schedule: "0 30 * * * *",
  lookback: "1d",
  maxLookback: "3d",
  sources: ["local", "log-analytics", "defender-xdr"],
  tables: ["DeviceNetworkEvents"],
  entity: { type: "device-connection", columns: ["DeviceName", "InitiatingProcessFileName", "RemoteIP", "RemotePort"] },
  entityMappings: [
    { type: "host", columns: ["DeviceName"] },
    { type: "ip", columns: ["RemoteIP"] },
    { type: "account", columns: ["Accounts"] },
  ],
  features: [{ column: "Connections", direction: "up" }],
  prevalence: { value: ["RemoteIP", "RemotePort"], across: ["DeviceName"], weightColumn: "PortWeight" },
  // Peers: the devices whose same process talks on the same port. A browser on 443 is common among them, PowerShell on 5985 is not.
  peers: { value: ["InitiatingProcessFileName", "RemotePort"], across: ["DeviceName"] },
  // The device's process is what acts: a scanner reaching its next targets is its habit, and a sweep is one finding.
  source: { columns: ["DeviceName", "InitiatingProcessFileName"], foldAt: 5 },
  parameters: { SensitivePorts: [3389, 445, 135, 5985, 5986, 22, 5900, 9389] },
  query: `
DeviceNetworkEvents
| where TimeGenerated >= HuntStart and TimeGenerated < HuntEnd
| where ActionType in ("ConnectionSuccess", "ConnectionAttempt", "ConnectionRequest", "ConnectionFailed")
| where isnotempty(RemoteIP)
| summarize Connections = count(), FirstSeen = min(TimeGenerated), LastSeen = max(TimeGenerated),
    RemoteUrls = make_set(RemoteUrl, 5), Accounts = make_set(InitiatingProcessAccountName, 5)
    by DeviceName, InitiatingProcessFileName, RemoteIP, RemotePort
| extend SensitivePort = RemotePort in (SensitivePorts)
| extend PortWeight = iff(SensitivePort, 1.0, 0.6)
`,
});
