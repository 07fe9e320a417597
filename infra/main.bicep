// Scheduled threat hunts on Azure Functions (Flex Consumption), with a user-assigned managed
// identity and identity-based connections only: no storage keys, no secrets in app settings.
targetScope = 'resourceGroup'

@description('Short name used to derive resource names.')
@minLength(3)
@maxLength(16)
param appName string

param location string = resourceGroup().location

@description('Hunt id -> NCRONTAB schedule (six fields). Each becomes the app setting HUNT_<ID>_SCHEDULE.')
param schedules object

@description('NCRONTAB schedule of the digest (main.bicepparam sets the default of DIGEST_SCHEDULE).')
param digestSchedule string

@description('Where hunts read logs.')
@allowed(['log-analytics', 'defender-xdr'])
param huntSource string = 'log-analytics'

@description('Resource id of the existing Log Analytics workspace the hunts query (may be in another resource group or subscription).')
param logAnalyticsWorkspaceResourceId string

@description('Workspace (customer) id of that workspace, the GUID queries are sent to.')
param logAnalyticsWorkspaceCustomerId string

@description('Teams Workflows webhook URL ("Post to a channel when a webhook request is received"). Stored in Key Vault.')
@secure()
param teamsWebhookUrl string = ''

@description('Generic webhook URL. Stored in Key Vault.')
@secure()
param webhookUrl string = ''

@description('Standard Webhooks signing secret (whsec_...). Stored in Key Vault.')
@secure()
param webhookSecret string = ''

@description('How long a notified hunt/entity is not notified again.')
param suppressionWindow string = '1d'

@description('Alerts sharing an entity within this timespan of an open incident join it.')
param incidentWindow string = '1d'

@description('Base64 key (32+ bytes) that signs the links on Teams cards. Stored in Key Vault; a new one on each deployment unless given, which expires the links already sent.')
@secure()
param linkSigningKey string = base64('${newGuid()}${newGuid()}')

@description('Other workspaces to query with the main one, comma-separated workspace ids.')
param additionalWorkspaces string = ''

@description('JSON parameter overrides per hunt, e.g. {"windows-logon-by-source-ip":{"FailedThreshold":50}}.')
param huntParameters string = ''

@description('Log Analytics query endpoint for sovereign clouds; empty for the public cloud.')
param logAnalyticsEndpoint string = ''

@description('Microsoft Graph endpoint for sovereign clouds; empty for the public cloud.')
param graphEndpoint string = ''

@description('Email address for hunt health alerts (a hunt failing repeatedly or not running); empty for alert rules without notifications.')
param alertEmail string = ''

@description('Consecutive failed runs of one hunt that raise the hunt-failing alert.')
@minValue(1)
param failureAlertThreshold int = 3

var suffix = uniqueString(resourceGroup().id, appName)
var workspaceParts = split(logAnalyticsWorkspaceResourceId, '/')

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: { name: 'id-${appName}-${suffix}', location: location }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: take('st${toLower(replace(appName, '-', ''))}${suffix}', 24)
    location: location
    principalId: identity.outputs.principalId
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: { name: '${appName}-${suffix}', location: location, principalId: identity.outputs.principalId }
}

module vault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: take('kv-${appName}-${suffix}', 24)
    location: location
    principalId: identity.outputs.principalId
    secrets: {
      'notify-teams-webhook-url': teamsWebhookUrl
      'notify-webhook-url': webhookUrl
      'notify-webhook-secret': webhookSecret
      'link-signing-key': linkSigningKey
    }
  }
}

// A workbook and alert rules over the app's run log (the contract is in the module).
module huntHealth 'modules/hunt-health.bicep' = {
  name: 'hunt-health'
  params: {
    namePrefix: appName
    location: location
    appInsightsId: monitoring.outputs.id
    huntIds: map(items(schedules), s => s.key)
    failureThreshold: failureAlertThreshold
    alertEmail: alertEmail
  }
}

// The workspace may live elsewhere: the role assignment is deployed at its scope.
module workspaceReader 'modules/workspace-reader.bicep' = {
  name: 'workspace-reader'
  scope: resourceGroup(workspaceParts[2], workspaceParts[4])
  params: { workspaceName: last(workspaceParts), principalId: identity.outputs.principalId }
}

module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    name: 'func-${appName}-${suffix}'
    location: location
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    appInsightsConnectionString: monitoring.outputs.connectionString
    schedules: schedules
    digestSchedule: digestSchedule
    huntSource: huntSource
    logAnalyticsWorkspaceCustomerId: logAnalyticsWorkspaceCustomerId
    keyVaultUri: vault.outputs.uri
    suppressionWindow: suppressionWindow
    incidentWindow: incidentWindow
    logAnalyticsWorkspaceResourceId: logAnalyticsWorkspaceResourceId
    additionalWorkspaces: additionalWorkspaces
    huntParameters: huntParameters
    logAnalyticsEndpoint: logAnalyticsEndpoint
    graphEndpoint: graphEndpoint
  }
}

output functionAppName string = functionApp.outputs.name
output functionAppUrl string = functionApp.outputs.url
output identityPrincipalId string = identity.outputs.principalId
output identityClientId string = identity.outputs.clientId
output huntHealthWorkbookId string = huntHealth.outputs.workbookId
