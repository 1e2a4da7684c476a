# Alerting: the pipeline says when it is failing. Every way runwatch can go quiet without dropping anything on purpose
# looks like a quiet day unless someone is told: letters piling up in a dead-letter hold, a push subscription backing
# up (a sink down for hours, a function that cannot start), a function logging errors or refusing to serve, the log
# sink no longer delivering (at any scope: counted on detect's own log lines). With alert_notification_channels set,
# each gets a Cloud Monitoring alert policy whose documentation says what it means and what to do; with none (the
# default) nothing here is created.
#
# Where each metric, monitored-resource type and label comes from (Cloud Monitoring's metric lists,
# cloud.google.com/monitoring/api/metrics_gcp, "pubsub" and "logging"):
#   pubsub.googleapis.com/subscription/num_undelivered_messages  GAUGE, INT64, resource pubsub_subscription
#                                                                 (label subscription_id): unacknowledged messages
#   pubsub.googleapis.com/subscription/oldest_unacked_message_age GAUGE, INT64, s, resource pubsub_subscription
#   logging.googleapis.com/exports/log_entry_count                DELTA, INT64, resource logging_sink (label name: the sink id),
#   logging.googleapis.com/exports/error_count                    written at project level only; sampled every 60 s,
#                                                                 visible up to 420 s later
#   logging.googleapis.com/user/NAME                              a user-defined log-based counter (google_logging_metric):
#                                                                 DELTA, INT64, on the resource of the entries it counts
# Log-based conditions (condition_matched_log) use the Logging query language on the functions' Cloud Run service:
# a 2nd gen function's logs are resource.type "cloud_run_revision" with resource.labels.service_name = the function's
# name (the same filter as the walkthrough's `gcloud logging read`). Cloud Monitoring refuses a log-based policy without
# alert_strategy.notification_rate_limit. A metric-absence condition fires only for a time series that has had data,
# and takes a window of at most 24 hours (cloud.google.com/monitoring/alerts/metric-absence).

locals {
  # A message still unacknowledged after three rounds of a function timeout plus the longest backoff (33 minutes with
  # the defaults) is no blip: a sink down, a function that cannot start. Pub/Sub keeps redelivering it until
  # max_delivery_attempts; the dead-letter policies above fire when it gives up, if that comes first.
  backlog_alert_seconds = 3 * (var.function_timeout_seconds + tonumber(trimsuffix(var.retry_maximum_backoff, "s")))
}

# ---------------------------------------------------------------------------------------------------------------------
# Dead letters held: something could not be processed or delivered and waits for a redrive
# ---------------------------------------------------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "dead_letter_hold" {
  count = length(var.alert_notification_channels) > 0 ? 1 : 0

  project               = var.project_id
  display_name          = "${var.name_prefix}: audit entries dead-lettered (detection missed them)"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.alert_notification_channels

  conditions {
    display_name = "${google_pubsub_subscription.dead_letter_hold.name} holds undelivered messages"

    condition_threshold {
      filter          = "metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.dead_letter_hold.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Audit entries are waiting in `${google_pubsub_subscription.dead_letter_hold.name}`: detect refused them (not JSON,
      not a LogEntry, a finding it could never store) or Pub/Sub gave up after ${var.max_delivery_attempts} failed pushes
      to detect (detect down or refusing to serve). **No finding was raised for them**: a risky change may have gone
      unseen.

      1. See what is held and why (a function's own letters carry `function`, `stage` and `reason` attributes, those
         Pub/Sub moved the source subscription and the delivery attempts):
         `npx runwatch redrive --project ${var.project_id} --dry-run --prefix ${var.name_prefix}`, or
         `gcloud pubsub subscriptions pull ${google_pubsub_subscription.dead_letter_hold.name} --project=${var.project_id} --limit=10 --format=json` (it leases what it
         shows for a minute, then the letters are back in the hold).
      2. Fix the cause the reasons name, then send them back: `npx runwatch redrive --project ${var.project_id} --prefix ${var.name_prefix}`.
      Letters are kept `message_retention_duration` (${var.message_retention_duration}); after that Pub/Sub discards them.

      detect's log says what it refused and why:
      `gcloud logging read 'resource.type="cloud_run_revision" AND resource.labels.service_name="${google_cloudfunctions2_function.detect.name}" AND severity>=WARNING' --project=${var.project_id} --freshness=1d`
    EOT
  }

  depends_on = [google_project_service.apis] # the Monitoring API
}

resource "google_monitoring_alert_policy" "findings_dead_letter_hold" {
  for_each = length(var.alert_notification_channels) > 0 ? local.sinks : toset([])

  project               = var.project_id
  display_name          = "${var.name_prefix}: findings for ${each.key} dead-lettered (not delivered)"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.alert_notification_channels

  conditions {
    display_name = "${google_pubsub_subscription.findings_dead_letter_hold[each.key].name} holds undelivered messages"

    condition_threshold {
      filter          = "metric.type = \"pubsub.googleapis.com/subscription/num_undelivered_messages\" AND resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.findings_dead_letter_hold[each.key].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      Findings for the ${each.key} sink are waiting in `${google_pubsub_subscription.findings_dead_letter_hold[each.key].name}`:
      notify-${each.key} failed to deliver them for good (a rejected token or routing key, an SCC source it may not
      write) or Pub/Sub gave up after ${var.max_delivery_attempts} failed pushes (${each.key} unreachable for longer
      than the retries). **They have not reached ${each.key}.**

      1. See what is held and why (a function's own letters carry `function`, `stage` and `reason` attributes, those
         Pub/Sub moved the source subscription and the delivery attempts):
         `npx runwatch redrive --project ${var.project_id} --dry-run --prefix ${var.name_prefix}`, or
         `gcloud pubsub subscriptions pull ${google_pubsub_subscription.findings_dead_letter_hold[each.key].name} --project=${var.project_id} --limit=10 --format=json` (it leases what it
         shows for a minute, then the letters are back in the hold).
      2. Fix the cause the reasons name, then send them back: `npx runwatch redrive --project ${var.project_id} --prefix ${var.name_prefix}`.
      Letters are kept `message_retention_duration` (${var.message_retention_duration}); after that Pub/Sub discards them.

      A redrive sends a sink's letters back for that sink only. notify-${each.key}'s log says why each failed:
      `gcloud logging read 'resource.type="cloud_run_revision" AND resource.labels.service_name="${google_cloudfunctions2_function.notify[each.key].name}" AND severity>=WARNING' --project=${var.project_id} --freshness=1d`
    EOT
  }

  depends_on = [google_project_service.apis] # the Monitoring API
}

# ---------------------------------------------------------------------------------------------------------------------
# Push subscriptions backing up: a function keeps failing (a sink down for hours, a function that cannot start)
# ---------------------------------------------------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "detect_backlog" {
  count = length(var.alert_notification_channels) > 0 ? 1 : 0

  project               = var.project_id
  display_name          = "${var.name_prefix}: audit entries waiting for detect"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.alert_notification_channels

  conditions {
    display_name = "Oldest unacked message on ${google_pubsub_subscription.detect.name} older than ${local.backlog_alert_seconds} s"

    condition_threshold {
      filter          = "metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.detect.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = local.backlog_alert_seconds
      duration        = "0s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      An audit entry has waited over ${local.backlog_alert_seconds} s on `${google_pubsub_subscription.detect.name}`:
      detect keeps answering it with an error (Firestore or Pub/Sub unavailable, a config it refuses to serve with,
      ingress or IAM refusing the push) or cannot keep up (`detect_max_instances`). Findings are late. Pub/Sub retries
      it until ${var.max_delivery_attempts} deliveries failed, then moves it to the dead-letter hold
      `${google_pubsub_subscription.dead_letter_hold.name}`.

      Read detect's log for the error:
      `gcloud logging read 'resource.type="cloud_run_revision" AND resource.labels.service_name="${google_cloudfunctions2_function.detect.name}" AND severity>=WARNING' --project=${var.project_id} --freshness=1h`
      Once fixed, the backlog drains by itself; what reached the dead-letter hold needs `npx runwatch redrive --project ${var.project_id} --prefix ${var.name_prefix}`.
    EOT
  }

  depends_on = [google_project_service.apis] # the Monitoring API
}

resource "google_monitoring_alert_policy" "notify_backlog" {
  for_each = length(var.alert_notification_channels) > 0 ? local.sinks : toset([])

  project               = var.project_id
  display_name          = "${var.name_prefix}: findings waiting for ${each.key}"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = var.alert_notification_channels

  conditions {
    display_name = "Oldest unacked message on ${google_pubsub_subscription.notify[each.key].name} older than ${local.backlog_alert_seconds} s"

    condition_threshold {
      filter          = "metric.type = \"pubsub.googleapis.com/subscription/oldest_unacked_message_age\" AND resource.type = \"pubsub_subscription\" AND resource.labels.subscription_id = \"${google_pubsub_subscription.notify[each.key].name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = local.backlog_alert_seconds
      duration        = "0s"

      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      A finding has waited over ${local.backlog_alert_seconds} s on `${google_pubsub_subscription.notify[each.key].name}`:
      notify-${each.key} keeps failing to deliver it (${each.key} unreachable, rate limiting, Firestore unavailable, a
      config or secret it refuses to serve with). The security team has not been told about it on ${each.key}. Pub/Sub
      retries it until ${var.max_delivery_attempts} deliveries failed, then moves it to the dead-letter hold
      `${google_pubsub_subscription.findings_dead_letter_hold[each.key].name}`.

      Read notify-${each.key}'s log for the failure (a retryable one is logged as WARNING, with the reason):
      `gcloud logging read 'resource.type="cloud_run_revision" AND resource.labels.service_name="${google_cloudfunctions2_function.notify[each.key].name}" AND severity>=WARNING' --project=${var.project_id} --freshness=1h`
      Once fixed, the backlog drains by itself; what reached the dead-letter hold needs `npx runwatch redrive --project ${var.project_id} --prefix ${var.name_prefix}`.
    EOT
  }

  depends_on = [google_project_service.apis] # the Monitoring API
}

# ---------------------------------------------------------------------------------------------------------------------
# Functions failing: ERROR or worse in a function's log (a message it could not process, a config or environment it
# refuses to serve with: CRITICAL, one line per problem), or a 5xx in its request log
# ---------------------------------------------------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "detect_errors" {
  count = length(var.alert_notification_channels) > 0 ? 1 : 0

  project               = var.project_id
  display_name          = "${var.name_prefix}: detect is failing"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.alert_notification_channels

  conditions {
    display_name = "${google_cloudfunctions2_function.detect.name} logs ERROR or worse"

    condition_matched_log {
      filter = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${google_cloudfunctions2_function.detect.name}\" AND severity >= ERROR"
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "3600s" # at most one notification an hour while it keeps failing
    }
    auto_close = "3600s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      detect (`${google_cloudfunctions2_function.detect.name}`) logged an error. `runwatch detect refuses to serve`
      (CRITICAL, one line per problem before it) means its config or environment is invalid and **every** audit entry
      fails until it is fixed and redeployed; `message not processed, Pub/Sub will redeliver it` is a failure Pub/Sub
      retries (Firestore or Pub/Sub unavailable); a 5xx request entry without either is an instance that could not
      start (a missing secret or image, memory).

      `gcloud logging read 'resource.type="cloud_run_revision" AND resource.labels.service_name="${google_cloudfunctions2_function.detect.name}" AND severity>=ERROR' --project=${var.project_id} --freshness=1h`

      Fix the config (`runwatch validate-config`), re-apply, and redrive what reached `${google_pubsub_subscription.dead_letter_hold.name}`:
      `npx runwatch redrive --project ${var.project_id} --prefix ${var.name_prefix}`.
    EOT
  }

  depends_on = [google_project_service.apis] # the Monitoring API
}

resource "google_monitoring_alert_policy" "notify_errors" {
  for_each = length(var.alert_notification_channels) > 0 ? local.sinks : toset([])

  project               = var.project_id
  display_name          = "${var.name_prefix}: notify-${each.key} is failing"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = var.alert_notification_channels

  conditions {
    display_name = "${google_cloudfunctions2_function.notify[each.key].name} logs ERROR or worse"

    condition_matched_log {
      filter = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${google_cloudfunctions2_function.notify[each.key].name}\" AND severity >= ERROR"
    }
  }

  alert_strategy {
    notification_rate_limit {
      period = "3600s" # at most one notification an hour while it keeps failing
    }
    auto_close = "3600s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      notify-${each.key} (`${google_cloudfunctions2_function.notify[each.key].name}`) logged an error.
      `runwatch notify refuses to serve` (CRITICAL, one line per problem before it) means its config, environment or
      ${each.key} settings are invalid (a secret with no version, a malformed endpoint) and **no** finding reaches
      ${each.key} until it is fixed; `delivery failed permanently, dead-lettered` names the reason a finding went to
      `${google_pubsub_subscription.findings_dead_letter_hold[each.key].name}`; a 5xx request entry without either is an
      instance that could not start.

      `gcloud logging read 'resource.type="cloud_run_revision" AND resource.labels.service_name="${google_cloudfunctions2_function.notify[each.key].name}" AND severity>=ERROR' --project=${var.project_id} --freshness=1h`

      Fix the cause, re-apply if the config or a secret version changed, then redrive:
      `npx runwatch redrive --project ${var.project_id} --prefix ${var.name_prefix}`.
    EOT
  }

  depends_on = [google_project_service.apis] # the Monitoring API
}

# ---------------------------------------------------------------------------------------------------------------------
# The log sink gone quiet: detect received no audit entry for alert_sink_quiet_duration, or (a project sink in
# project_id) the sink failed to export
# ---------------------------------------------------------------------------------------------------------------------

locals {
  # The flag that names the sink's scope to gcloud (`gcloud logging sinks describe NAME FLAG`).
  sink_scope_flag = (
    var.log_sink_scope == "organization" ? "--organization=${var.organization_id}" :
    var.log_sink_scope == "folder" ? "--folder=${var.folder_id}" :
    "--project=${local.sink_project_id}"
  )
  # Where the export metrics are: Cloud Logging writes exports/* at project level, in the sink's own project (the
  # metric list gives no organization or folder level), so only a project sink in project_id has them here.
  sink_export_metrics_here = var.log_sink_scope == "project" && local.sink_project_id == var.project_id
}

# What detect itself receives, whatever the sink's scope: detect writes one line per message that decodes as a LogEntry,
# with jsonPayload.entryOutcome (functions/detect.ts), on the line it writes for that entry anyway (processed and
# duplicate at DEBUG, skipped at INFO, dead-lettered at WARNING, failed at ERROR): most of what an organization sink
# delivers raises nothing and is logged at DEBUG. Cloud Run sends every stdout line to Cloud Logging whatever its
# severity, and a user-defined log-based metric counts entries as received, before any exclusion filter drops them
# from storage (cloud.google.com/logging/docs/logs-based-metrics), so excluding DEBUG to save storage leaves the count
# whole. Neither the sweep's lines (Cloud Scheduler publishes to the audit topic every few minutes) nor the start-up
# line carry the field. Each of detect's revisions is a time series of its own (resource cloud_run_revision): the
# policy sums them, so the series of a revision a redeploy retired does not go absent.
resource "google_logging_metric" "entries_received" {
  count = length(var.alert_notification_channels) > 0 ? 1 : 0

  project     = var.project_id
  name        = "${var.name_prefix}-audit-entries-received"
  description = "runwatch: audit entries the detect function received from the log sink (one log line each, jsonPayload.entryOutcome); the sink-quiet alert fires when none comes for alert_sink_quiet_duration."
  filter      = "resource.type = \"cloud_run_revision\" AND resource.labels.service_name = \"${google_cloudfunctions2_function.detect.name}\" AND jsonPayload.component = \"detect\" AND jsonPayload.entryOutcome = (\"processed\" OR \"skipped\" OR \"duplicate\" OR \"dead-lettered\" OR \"failed\")"

  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
    unit        = "1"
  }

  depends_on = [google_project_service.apis] # the Logging API
}

# One policy for every scope. For a project sink in project_id it also watches exports/error_count: a writer identity
# that lost publish on the audit topic fails every export, which this condition reports within minutes, where detect's
# count would wait alert_sink_quiet_duration. Its exports/log_entry_count is not watched any more: detect's count goes
# absent whenever it does (nothing exported, nothing received) and also when the entries stop between the topic and
# detect, and one policy means one notification for one silence.
resource "google_monitoring_alert_policy" "sink_quiet" {
  count = length(var.alert_notification_channels) > 0 ? 1 : 0

  project               = var.project_id
  display_name          = "${var.name_prefix}: log sink delivers no audit entries"
  combiner              = "OR"
  severity              = "CRITICAL"
  notification_channels = var.alert_notification_channels

  conditions {
    display_name = "${google_cloudfunctions2_function.detect.name} received no audit entry for ${var.alert_sink_quiet_duration}"

    condition_absent {
      filter   = "metric.type = \"logging.googleapis.com/user/${google_logging_metric.entries_received[0].name}\" AND resource.type = \"cloud_run_revision\""
      duration = var.alert_sink_quiet_duration

      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM" # one series for all of detect's revisions
      }

      trigger {
        count = 1
      }
    }
  }

  dynamic "conditions" {
    for_each = local.sink_export_metrics_here ? ["export errors"] : []

    content {
      display_name = "Entries ${local.sink_name} failed to export"

      condition_threshold {
        filter          = "metric.type = \"logging.googleapis.com/exports/error_count\" AND resource.type = \"logging_sink\" AND resource.labels.name = \"${local.sink_name}\""
        comparison      = "COMPARISON_GT"
        threshold_value = 0
        duration        = "0s"

        aggregations {
          alignment_period   = "600s" # the metric shows up to 420 s late
          per_series_aligner = "ALIGN_SUM"
        }
      }
    }
  }

  documentation {
    mime_type = "text/markdown"
    content   = <<-EOT
      detect (`${google_cloudfunctions2_function.detect.name}`) received no audit entry from the log sink
      `${local.sink_name}` (${var.log_sink_scope} sink) for ${var.alert_sink_quiet_duration}${local.sink_export_metrics_here ? ", or the sink failed to export some" : ""}.
      **While it does, no change is seen at all.**

      1. Is the sink there and intact? `gcloud logging sinks describe ${local.sink_name} ${local.sink_scope_flag}`:
         NOT_FOUND means it was deleted; otherwise look at `disabled`, `filter` and `exclusions`. `terraform plan` shows
         what was changed by hand, `terraform apply` puts it back.
      2. May it publish? Its writer identity (`writerIdentity` in step 1) needs `roles/pubsub.publisher` on the audit topic:
         `gcloud pubsub topics get-iam-policy ${google_pubsub_topic.audit.name} --project=${var.project_id}`; failed
         exports are logged as `logging.googleapis.com%2Fsink_error`.
      3. If both are right, it may be a quiet day: no Cloud Run change and no IAM change anywhere the sink watches. Make
         one you know of (deploy a revision, or add and remove a role on a test service) and look for detect's line for
         it within minutes:
         `gcloud logging read 'resource.type="cloud_run_revision" AND resource.labels.service_name="${google_cloudfunctions2_function.detect.name}" AND jsonPayload.entryOutcome:*' --project=${var.project_id} --freshness=1h --limit=5`
         Nothing there while the change's own audit entry is in its project's log
         (`gcloud logging read 'logName:"cloudaudit.googleapis.com%2Factivity" AND protoPayload.serviceName="run.googleapis.com"' --project=THAT_PROJECT --freshness=1h --limit=5`)
         means the entries stop between the sink and detect: the `${var.name_prefix}: audit entries waiting for detect`
         and `${var.name_prefix}: detect is failing` policies name the cause (a detect that refuses to serve logs no
         entry at all).
      Entries not routed while it was broken are not delivered later; replay them from Cloud Logging
      (`runwatch replay`, README "Straight from Cloud Logging").
    EOT
  }

  depends_on = [google_project_service.apis] # the Monitoring API
}
