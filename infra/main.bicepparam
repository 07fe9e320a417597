using './main.bicep'

param appName = 'hunts'

// Hunt id -> NCRONTAB (second minute hour day month day-of-week), UTC.
// Change a schedule here and redeploy; the app setting HUNT_<ID>_SCHEDULE follows.
param schedules = {
  'windows-logon-by-source-ip': '0 5 * * * *'
  'password-spray-by-source': '0 10 * * * *'
  'failed-signins-with-audit': '0 15 6 * * *'
  'rare-device-connections': '0 30 * * * *'
  'logon-graph-rank': '0 20 6 * * *'
  'logon-changepoint': '0 25 6 * * *'
}

param digestSchedule = '0 0 7 * * *'

param huntSource = 'log-analytics'

// The existing Sentinel workspace (its resource id, and its workspace id for queries).
param logAnalyticsWorkspaceResourceId = '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/rg-sentinel/providers/Microsoft.OperationalInsights/workspaces/law-sentinel'
param logAnalyticsWorkspaceCustomerId = '00000000-0000-0000-0000-000000000000'

// Secrets: pass them at deployment time, e.g. --parameters teamsWebhookUrl=... (they go to Key Vault).
param teamsWebhookUrl = ''
param webhookUrl = ''
param webhookSecret = ''
