// Hunt health in Azure Monitor: a workbook and two log search alert rules over the app's run log
// in Application Insights (queried as the `traces` table of the component).
//
// The run log contract (what lib/runs writes and these queries read): one trace per finished hunt
// run. The Functions host keeps only a log line's text (context.log adds no custom dimensions of
// ours), so the message is "hunt run <runId>..." and its last line the run's properties as JSON
// (lib/log.ts lineWithProperties), under exactly these names:
//   huntId       string    the hunt's id (as in the catalog and HUNT_<ID>_SCHEDULE)
//   runId        string    unique per run
//   status       string    "succeeded" or "failed"
//   partial      string    why the run went without some of its data (a source failed); empty when complete
//   windowStart  datetime  ISO 8601, the start of the window the run queried
//   windowEnd    datetime  ISO 8601, its end
//   rows         long      rows the query returned
//   entities     long      entities scored
//   findings     long      findings recorded
//   alerts       long      findings that alerted
//   durationMs   real      how long the run took
// Run logs are not sampled (host.json excludes traces from sampling): the alerts count them.
// The queries live in infra/queries/*.kql, each after the hunt-runs.kql prelude; test/infra
// checks them with the official Kusto parser and runs the alert queries on sample run logs.
param location string
@description('Resource id of the Application Insights component the app logs to.')
param appInsightsId string
@description('The hunt ids the app runs on timers: a hunt among them that stops running raises an alert.')
param huntIds array
@description('Consecutive failed runs of one hunt that raise an alert.')
@minValue(1)
param failureThreshold int = 3
@description('Email address for hunt health alerts; empty for rules without notifications (visible in the portal).')
param alertEmail string = ''
param namePrefix string

var prelude = loadTextContent('../queries/hunt-runs.kql')
var query = {
  failing: '${prelude}\n${loadTextContent('../queries/failing-hunts.kql')}'
  stopped: '${prelude}\n${replace(loadTextContent('../queries/stopped-hunts.kql'), '__HUNT_IDS__', string(huntIds))}'
  lastRuns: '${prelude}\n${loadTextContent('../queries/workbook-last-runs.kql')}'
  runsByStatus: '${prelude}\n${loadTextContent('../queries/workbook-runs-by-status.kql')}'
  alertsOverTime: '${prelude}\n${loadTextContent('../queries/workbook-alerts-over-time.kql')}'
  failures: '${prelude}\n${loadTextContent('../queries/workbook-failures.kql')}'
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmail)) {
  name: 'ag-${namePrefix}'
  location: 'global'
  properties: {
    groupShortName: take('hunts${uniqueString(namePrefix)}', 12)
    enabled: true
    emailReceivers: [{ name: 'hunt-health', emailAddress: alertEmail, useCommonAlertSchema: true }]
  }
}

var actions = empty(alertEmail) ? {} : { actionGroups: [actionGroup.id] }

resource failingHunts 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'alert-${namePrefix}-hunt-failing'
  location: location
  properties: {
    displayName: 'Hunt failing repeatedly (${namePrefix})'
    description: 'A hunt failed ${failureThreshold} or more times in a row (since its last successful run, within 12 hours).'
    severity: 2
    enabled: true
    scopes: [appInsightsId]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT12H'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: query.failing
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'consecutiveFailures'
          dimensions: [{ name: 'huntId', operator: 'Include', values: ['*'] }]
          operator: 'GreaterThanOrEqual'
          threshold: failureThreshold
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: actions
  }
}

resource stoppedHunts 'Microsoft.Insights/scheduledQueryRules@2023-03-15-preview' = {
  name: 'alert-${namePrefix}-hunt-stopped'
  location: location
  properties: {
    displayName: 'Hunt stopped running (${namePrefix})'
    description: 'A deployed hunt has not run for more than twice its usual interval (or not at all in two days).'
    severity: 2
    enabled: true
    scopes: [appInsightsId]
    evaluationFrequency: 'PT1H'
    windowSize: 'P2D'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: query.stopped
          timeAggregation: 'Count'
          dimensions: [{ name: 'huntId', operator: 'Include', values: ['*'] }]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 }
        }
      ]
    }
    actions: actions
  }
}

/** One workbook query step over the component, as the workbook JSON format has it. */
func step(name string, title string, kql string, visualization string) object => {
  type: 3
  name: name
  content: {
    version: 'KqlItem/1.0'
    title: title
    query: kql
    size: 0
    timeContext: { durationMs: 604800000 }
    queryType: 0
    resourceType: 'microsoft.insights/components'
    visualization: visualization
  }
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(appInsightsId, 'hunt-health')
  location: location
  kind: 'shared'
  properties: {
    displayName: 'Hunt health (${namePrefix})'
    category: 'workbook'
    sourceId: appInsightsId
    serializedData: string({
      version: 'Notebook/1.0'
      items: [
        {
          type: 1
          name: 'intro'
          content: { json: '## Hunt health\nEvery hunt run logs one trace (huntId, runId, status, partial, rows, entities, findings, alerts, durationMs). Alert rules: a hunt failing repeatedly, a hunt that stopped running.' }
        }
        step('last-runs', 'Latest run of each hunt', query.lastRuns, 'table')
        step('runs-by-status', 'Runs, failures and findings per hunt', query.runsByStatus, 'table')
        step('alerts-over-time', 'Alerts per hour', query.alertsOverTime, 'timechart')
        step('failures', 'Failed and partial runs', query.failures, 'table')
      ]
    })
  }
}

output workbookId string = workbook.id
output alertRuleIds array = [failingHunts.id, stoppedHunts.id]
