# Watch every project of an organization: an aggregated log sink on the organization feeds runwatch in one project,
# and findings go to Security Command Center, Slack and PagerDuty.

provider "google" {
  project = var.project_id
  region  = var.region
  # With user credentials (gcloud auth application-default login) some APIs (Service Usage, Resource Manager) refuse
  # calls that name no quota project; this bills them to the runwatch project (needs serviceusage.services.use there).
  user_project_override = true
  billing_project       = var.project_id
}

provider "google-beta" {
  project = var.project_id
  region  = var.region
  # With user credentials (gcloud auth application-default login) some APIs (Service Usage, Resource Manager) refuse
  # calls that name no quota project; this bills them to the runwatch project (needs serviceusage.services.use there).
  user_project_override = true
  billing_project       = var.project_id
}

module "runwatch" {
  source = "../../modules/runwatch"

  project_id = var.project_id
  region     = var.region

  # Every folder and project below the organization.
  log_sink_scope   = "organization"
  organization_id  = var.organization_id
  include_children = true

  sinks = var.sinks
  secret_versions = {
    slack     = var.slack_secret_version
    pagerduty = var.pagerduty_secret_version
  }
  # A PagerDuty account in the EU service region (app.eu.pagerduty.com) takes events at its own endpoint:
  # endpoints = { pagerduty_events_url = "https://events.eu.pagerduty.com/v2/enqueue" }

  # The rules: edit runwatch.yaml and re-apply. Plan fails on an invalid config; a changed config redeploys.
  config_path = "${path.module}/runwatch.yaml"

  # The runwatch package to deploy: here, the repository this example lives in (built with `npm ci && npm run build`).
  package_dir = "${path.module}/../../.."

  # Alert policies for a failing pipeline (dead letters, backlogs, function errors): set channels to turn them on.
  alert_notification_channels = var.alert_notification_channels

  labels = {
    app = "runwatch"
  }
}
