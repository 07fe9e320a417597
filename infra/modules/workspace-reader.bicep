// Deployed at the workspace's own scope (it may be in another resource group or subscription).
param workspaceName string
param principalId string

var logAnalyticsDataReader = '3b03c2da-16b3-4a49-8834-0f8130efdd3b'

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

resource reader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(workspace.id, principalId, logAnalyticsDataReader)
  scope: workspace
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', logAnalyticsDataReader)
  }
}
