// Flex Consumption (FC1) Function App on Node 22 with the user-assigned identity for everything:
// host storage, deployment package, Application Insights, Key Vault references, Log Analytics.
param name string
param location string
@description('The service in azure.yaml this app is deployed as.')
param serviceName string = 'hunts'
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerUrl string
param appInsightsConnectionString string
param schedules object
param digestSchedule string
param huntSource string
param logAnalyticsWorkspaceCustomerId string
param keyVaultUri string
param suppressionWindow string
param incidentWindow string
param logAnalyticsWorkspaceResourceId string
param additionalWorkspaces string
param huntParameters string
param logAnalyticsEndpoint string
param graphEndpoint string

// One app setting per hunt: HUNT_<ID>_SCHEDULE, the id upper-cased with '-' as '_'
// (the timers read %HUNT_<ID>_SCHEDULE%).
var scheduleSettings = [for s in items(schedules): {
  name: 'HUNT_${toUpper(replace(s.key, '-', '_'))}_SCHEDULE'
  value: s.value
}]

var settings = concat(scheduleSettings, [
  { name: 'AzureWebJobsStorage__blobServiceUri', value: 'https://${storageAccountName}.blob.${environment().suffixes.storage}' }
  { name: 'AzureWebJobsStorage__queueServiceUri', value: 'https://${storageAccountName}.queue.${environment().suffixes.storage}' }
  { name: 'AzureWebJobsStorage__tableServiceUri', value: 'https://${storageAccountName}.table.${environment().suffixes.storage}' }
  { name: 'AzureWebJobsStorage__credential', value: 'managedidentity' }
  { name: 'AzureWebJobsStorage__clientId', value: identityClientId }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
  { name: 'APPLICATIONINSIGHTS_AUTHENTICATION_STRING', value: 'ClientId=${identityClientId};Authorization=AAD' }
  { name: 'STATE_TABLE_PREFIX', value: 'hunt' }
  { name: 'HUNT_SOURCE', value: huntSource }
  { name: 'LOG_ANALYTICS_WORKSPACE_ID', value: logAnalyticsWorkspaceCustomerId }
  { name: 'DIGEST_SCHEDULE', value: digestSchedule }
  // Sentinel YAML deployed with the app in hunts/; the generic timer checks which are due.
  { name: 'IMPORTED_HUNTS_PATH', value: 'hunts' }
  { name: 'IMPORTED_HUNTS_SCHEDULE', value: '0 */5 * * * *' }
  { name: 'NOTIFY_TEAMS_WEBHOOK_URL', value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/notify-teams-webhook-url)' }
  { name: 'NOTIFY_WEBHOOK_URL', value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/notify-webhook-url)' }
  { name: 'NOTIFY_WEBHOOK_SECRET', value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/notify-webhook-secret)' }
  { name: 'NOTIFY_SUPPRESSION_WINDOW', value: suppressionWindow }
  { name: 'INCIDENT_WINDOW', value: incidentWindow }
  { name: 'LINK_SIGNING_KEY', value: '@Microsoft.KeyVault(SecretUri=${keyVaultUri}secrets/link-signing-key)' }
  { name: 'LOG_ANALYTICS_WORKSPACE_RESOURCE_ID', value: logAnalyticsWorkspaceResourceId }
  // The repository's exceptions.yaml, deployed with the app.
  { name: 'EXCEPTIONS_FILE', value: 'exceptions.yaml' }
  { name: 'BASELINE_RETENTION', value: '90d' }
  { name: 'FINDING_RETENTION', value: '90d' }
  { name: 'INCIDENT_RETENTION', value: '90d' }
  { name: 'RUN_RETENTION', value: '90d' }
  { name: 'DELIVERY_CLAIM_RETENTION', value: '7d' }
  { name: 'STAGED_RETENTION', value: '7d' }
  { name: 'RETENTION_SCHEDULE', value: '0 30 2 * * *' }
  // Under functionTimeout (host.json, 10 minutes): a prune that runs out resumes the next day.
  { name: 'RETENTION_TIME_BUDGET', value: '5m' }
  { name: 'PUBLIC_BASE_URL', value: 'https://${name}.azurewebsites.net' }
  { name: 'LOG_ANALYTICS_ADDITIONAL_WORKSPACES', value: additionalWorkspaces }
  { name: 'HUNT_PARAMETERS', value: huntParameters }
  // Empty means the public cloud; set for sovereign clouds.
  { name: 'LOG_ANALYTICS_ENDPOINT', value: logAnalyticsEndpoint }
  { name: 'GRAPH_ENDPOINT', value: graphEndpoint }
  { name: 'SOURCE_CREDENTIAL', value: 'managed-identity' }
  { name: 'NOTIFY_ALLOW_INSECURE', value: 'false' }
  { name: 'languageWorkers__node__arguments', value: '--max-semi-space-size=64' }
])

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: 'plan-${name}'
  location: location
  kind: 'functionapp'
  sku: { tier: 'FlexConsumption', name: 'FC1' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  // How `azd deploy` finds the app to deploy the service `hunts` of azure.yaml to.
  tags: { 'azd-service-name': serviceName }
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      scaleAndConcurrency: { maximumInstanceCount: 40, instanceMemoryMB: 2048 }
      runtime: { name: 'node', version: '22' }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: settings
    }
  }
}

output name string = app.name
output url string = 'https://${app.properties.defaultHostName}'
