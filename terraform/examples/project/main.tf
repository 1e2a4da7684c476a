# Watch one project (no organization needed): a project log sink feeds runwatch in the same project, and findings go
# to Slack and the function log (console sink).

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

  log_sink_scope      = "project"
  log_sink_project_id = var.watched_project_id

  # The webhook sink's URL and signing key are Secret Manager secrets (<prefix>-webhook-url, <prefix>-webhook-secret),
  # added out of band like the Slack token: a URL often carries the receiver's credential.
  sinks = var.sinks
  # Which version of each secret the functions read: pin a number and bump it to roll a rotated secret out.
  secret_versions = {
    slack       = var.slack_secret_version
    pagerduty   = var.pagerduty_secret_version
    webhook     = var.webhook_secret_version
    webhook_url = var.webhook_url_secret_version
  }

  # The rules: edit runwatch.yaml and re-apply. Plan fails on an invalid config; a changed config redeploys.
  config_path = "${path.module}/runwatch.yaml"

  # The runwatch package to deploy: here, the repository this example lives in (built with `npm ci && npm run build`).
  package_dir = "${path.module}/../../.."

  # One project's traffic: keep instance counts small.
  detect_max_instances = 3
  notify_max_instances = 2

  # Alert policies for a failing pipeline (dead letters, backlogs, function errors, the sink gone quiet when it lives
  # in this project): set channels to turn them on.
  alert_notification_channels = var.alert_notification_channels
}
