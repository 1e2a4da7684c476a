# Secret Manager secrets for the sink credentials. Terraform creates the containers only; the values are added out of
# band (`gcloud secrets versions add`, see README.md) so they never enter the Terraform state or a plan.

locals {
  # By name (the key of secret_versions and of the secret_ids output); `sink` is the notify function that reads it.
  secret_specs = {
    slack = {
      sink        = "slack"
      env         = "SLACK_BOT_TOKEN"
      secret_id   = "${var.name_prefix}-slack-bot-token"
      description = "Slack bot token (xoxb-...) with chat:write (and channels:history / groups:history, so an unclear answer is checked in the channel)"
    }
    pagerduty = {
      sink        = "pagerduty"
      env         = "PAGERDUTY_ROUTING_KEY"
      secret_id   = "${var.name_prefix}-pagerduty-routing-key"
      description = "PagerDuty Events API v2 integration (routing) key"
    }
    webhook = {
      sink        = "webhook"
      env         = "WEBHOOK_SECRET"
      secret_id   = "${var.name_prefix}-webhook-secret"
      description = "HMAC-SHA256 key signing webhook bodies (X-Runwatch-Signature)"
    }
    # A secret too: many webhook URLs carry their credential in the path, and a plain environment variable would sit
    # in the Terraform state and the function's configuration, readable by project Viewers.
    webhook_url = {
      sink        = "webhook"
      env         = "WEBHOOK_URL"
      secret_id   = "${var.name_prefix}-webhook-url"
      description = "HTTPS endpoint the webhook sink POSTs findings to"
    }
  }

  # Only the sinks that are enabled get their secrets.
  secrets = { for name, spec in local.secret_specs : name => spec if contains(var.sinks, spec.sink) }
}

resource "google_secret_manager_secret" "sink" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = each.value.secret_id
  labels    = merge(var.labels, { runwatch-sink = each.value.sink })
  annotations = {
    description = each.value.description
  }

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

# Each notify function reads its own sink's secrets (webhook: key and URL) and no other secret.
resource "google_secret_manager_secret_iam_member" "notify_secret_accessor" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = google_secret_manager_secret.sink[each.key].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.notify[each.value.sink].member
}
