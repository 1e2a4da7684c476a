output "audit_topic_id" {
  description = "Full name (projects/P/topics/T) of the topic the log sink routes audit entries to; publish here to test detect."
  value       = google_pubsub_topic.audit.id
}

output "findings_topic_id" {
  description = "Full name of the topic detect publishes findings to; publish a finding here to test the sinks."
  value       = google_pubsub_topic.findings.id
}

output "dead_letter_topic_id" {
  description = "Full name of the audit side's dead-letter topic (audit entries detect or its subscription gave up on)."
  value       = google_pubsub_topic.dead_letter.id
}

output "dead_letter_subscription_id" {
  description = "Pull subscription that keeps the audit side's dead letters (runwatch redrive, gcloud pubsub subscriptions pull)."
  value       = google_pubsub_subscription.dead_letter_hold.id
}

output "findings_dead_letter_topic_id" {
  description = "Full names of the findings side's dead-letter topics, by sink (findings notify-SINK or its subscription gave up on; only notify-SINK may publish to its own)."
  value       = { for sink, topic in google_pubsub_topic.findings_dead_letter : sink => topic.id }
}

output "findings_dead_letter_subscription_id" {
  description = "Pull subscriptions that keep the findings side's dead letters, by sink (runwatch redrive sends a sink's back for that sink only; gcloud pubsub subscriptions pull)."
  value       = { for sink, sub in google_pubsub_subscription.findings_dead_letter_hold : sink => sub.id }
}

output "subscription_ids" {
  description = "Push subscriptions by consumer: detect, and notify-<sink> for each sink."
  value = merge(
    { detect = google_pubsub_subscription.detect.id },
    { for sink, sub in google_pubsub_subscription.notify : "notify-${sink}" => sub.id },
  )
}

output "detect_function_uri" {
  description = "HTTPS URI of the detect function (invocable only by the detect push service account)."
  value       = google_cloudfunctions2_function.detect.service_config[0].uri
}

output "notify_function_uris" {
  description = "HTTPS URIs of the notify functions, by sink."
  value       = { for sink, fn in google_cloudfunctions2_function.notify : sink => fn.service_config[0].uri }
}

output "function_names" {
  description = "Names of the deployed functions (detect and notify-<sink>), for gcloud functions logs read."
  value = merge(
    { detect = google_cloudfunctions2_function.detect.name },
    { for sink, fn in google_cloudfunctions2_function.notify : "notify-${sink}" => fn.name },
  )
}

output "service_account_emails" {
  description = "Service accounts by role: detect, notify-<sink> (runtime identities), detect-push and notify-<sink>-push (push OIDC identities), build."
  value = merge(
    {
      detect      = google_service_account.detect.email
      detect-push = google_service_account.detect_push.email
      build       = google_service_account.build.email
    },
    { for sink, sa in google_service_account.notify : "notify-${sink}" => sa.email },
    { for sink, sa in google_service_account.notify_push : "notify-${sink}-push" => sa.email },
  )
}

output "log_sink_writer_identity" {
  description = "Identity the log sink writes as (already granted publish on the audit topic)."
  value       = local.sink_writer_identity
}

output "log_sink_name" {
  description = "Name of the log sink and where it lives."
  value       = "${var.log_sink_scope}:${var.log_sink_scope == "organization" ? var.organization_id : var.log_sink_scope == "folder" ? var.folder_id : local.sink_project_id}/${local.sink_name}"
}

output "secret_ids" {
  description = "Secret Manager secrets to fill out of band, by name: slack, pagerduty, webhook, webhook_url (gcloud secrets versions add SECRET --data-file=-)."
  value       = { for sink, secret in google_secret_manager_secret.sink : sink => secret.secret_id }
}

output "scc_source_name" {
  description = "SCC source the scc sink writes under (organizations/O/sources/S), or null without the scc sink."
  value       = contains(var.sinks, "scc") ? local.scc_source_name : null
}

output "source_object" {
  description = "gs:// URL of the deployed source zip; its name carries the source and config hashes."
  value       = "gs://${google_storage_bucket.source.name}/${google_storage_bucket_object.source.name}"
}

output "config_sha256" {
  description = "SHA-256 of the config file the functions run with."
  value       = local.config_sha256
}

output "delivery_database" {
  description = "Id of the Firestore database notify keeps its delivery records in (its accounts may use no other); detect's state stays in (default)."
  value       = google_firestore_database.deliveries.name
}

output "alert_policy_names" {
  description = "Names (projects/P/alertPolicies/ID) of the alert policies created with alert_notification_channels, by what they watch: dead-letter-hold, findings-dead-letter-hold-SINK, detect-backlog, notify-backlog-SINK, detect-errors, notify-errors-SINK, sink-quiet. Empty without channels."
  value = merge(
    { for p in google_monitoring_alert_policy.dead_letter_hold : "dead-letter-hold" => p.name },
    { for sink, p in google_monitoring_alert_policy.findings_dead_letter_hold : "findings-dead-letter-hold-${sink}" => p.name },
    { for p in google_monitoring_alert_policy.detect_backlog : "detect-backlog" => p.name },
    { for sink, p in google_monitoring_alert_policy.notify_backlog : "notify-backlog-${sink}" => p.name },
    { for p in google_monitoring_alert_policy.detect_errors : "detect-errors" => p.name },
    { for sink, p in google_monitoring_alert_policy.notify_errors : "notify-errors-${sink}" => p.name },
    { for p in google_monitoring_alert_policy.sink_quiet : "sink-quiet" => p.name },
  )
}
