# Secret Manager secrets for the sink credentials. Terraform creates the containers only; the values are added out of
# band (`gcloud secrets versions add`, see README.md) so they never enter the Terraform state or a plan.

locals {
  secret_specs = {
    slack = {
      env         = "SLACK_BOT_TOKEN"
      secret_id   = "${var.name_prefix}-slack-bot-token"
      description = "Slack bot token (xoxb-...) with chat:write"
    }
    pagerduty = {
      env         = "PAGERDUTY_ROUTING_KEY"
      secret_id   = "${var.name_prefix}-pagerduty-routing-key"
      description = "PagerDuty Events API v2 integration (routing) key"
    }
    webhook = {
      env         = "WEBHOOK_SECRET"
      secret_id   = "${var.name_prefix}-webhook-secret"
      description = "HMAC-SHA256 key signing webhook bodies (X-Runwatch-Signature)"
    }
  }

  # Only the sinks that are enabled get a secret.
  secrets = { for sink, spec in local.secret_specs : sink => spec if contains(var.sinks, sink) }
}

resource "google_secret_manager_secret" "sink" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = each.value.secret_id
  labels    = merge(var.labels, { runwatch-sink = each.key })
  annotations = {
    description = each.value.description
  }

  replication {
    auto {}
  }

  depends_on = [google_project_service.apis]
}

# Each notify function reads its own sink's credential and no other secret.
resource "google_secret_manager_secret_iam_member" "notify_secret_accessor" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = google_secret_manager_secret.sink[each.key].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.notify[each.key].member
}
