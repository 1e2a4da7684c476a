# The functions (Cloud Run functions, 2nd gen), one runtime identity each, and one push identity each that may invoke
# that function and nothing else. Both functions are served as `cloudEvent` targets by functions-framework; without an
# event_trigger the platform calls them over plain HTTP, which is exactly what our push subscriptions do.

locals {
  sinks = toset(var.sinks)

  # Environment every function gets (DESIGN.md, "Contracts"). Topic values are full names projects/P/topics/T.
  # DEAD_LETTER_TOPIC is merged per function: its own side's dead-letter topic, the only one it may publish to.
  # notify also gets DELIVERY_DATABASE: its records' own database, the only one it may use.
  common_env = {
    GOOGLE_CLOUD_PROJECT = var.project_id
    RUNWATCH_CONFIG      = local.deployed_config_path
    FINDINGS_TOPIC       = google_pubsub_topic.findings.id
    NODE_ENV             = "production" # functions-framework then keeps error details out of HTTP responses
  }

  # Plain (non-secret) settings a notify function needs beyond common_env, by sink.
  sink_env = {
    scc = { SCC_SOURCE = coalesce(local.scc_source_name, "unset") }
    # The Slack message links to the SCC finding when SCC is a sink too.
    slack     = contains(var.sinks, "scc") ? { SCC_SOURCE = coalesce(local.scc_source_name, "unset") } : {}
    pagerduty = {}
    webhook   = {} # WEBHOOK_URL is a secret (secrets.tf): the URL often carries the receiver's credential
    console   = {}
  }

  # The full names of detect's database and notify's, as IAM Conditions see them (projects/P/databases/D).
  state_database_name    = "projects/${var.project_id}/databases/(default)"
  delivery_database_name = "projects/${var.project_id}/databases/${google_firestore_database.deliveries.name}"

  function_source = {
    bucket = google_storage_bucket.source.name
    object = google_storage_bucket_object.source.name
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Build identity
# ---------------------------------------------------------------------------------------------------------------------

# Every service account waits for the APIs (on a new project the IAM API is not enabled yet), and so does every grant
# to one, since it names the account.

# roles/run.builder is granted on the project and includes storage.objects.get: the build account can read objects in
# every bucket of the project, not only the source bucket. A stricter setup (untested here) would grant instead
# roles/logging.logWriter and roles/artifactregistry.writer on the project plus the source bucket grant below.

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-build"
  display_name = "runwatch function builds"
  description  = "Cloud Build runs the runwatch function builds as this account."

  depends_on = [google_project_service.apis] # the IAM API, on a new project
}

# Builds need this role (Google's documented one for a custom build SA); it lets the SA read every bucket, see above.
resource "google_project_iam_member" "build_run_builder" {
  project = var.project_id
  role    = "roles/run.builder"
  member  = google_service_account.build.member
}

# The build reads the zipped source from the source bucket (run.builder above already allows reading any bucket).
resource "google_storage_bucket_iam_member" "build_source_reader" {
  bucket = google_storage_bucket.source.name
  role   = "roles/storage.objectViewer"
  member = google_service_account.build.member
}

# ---------------------------------------------------------------------------------------------------------------------
# detect
# ---------------------------------------------------------------------------------------------------------------------

resource "google_service_account" "detect" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-detect"
  display_name = "runwatch detect"
  description  = "Runtime identity of the detect function: reads audit entries, keeps baselines, publishes findings."

  depends_on = [google_project_service.apis] # the IAM API, on a new project
}

# detect keeps baselines, correlations and applied-entry records in the (default) database only (never notify's).
resource "google_project_iam_member" "detect_datastore_user" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.detect.member

  # As notify's below, on the resource name: a compromised detect function (it parses audit entries from everywhere
  # the sink watches) cannot rewrite or delete the delivery records in <prefix>-deliveries, which would have notify
  # post a finding again or lose a resolution's thread. "(default)" has no "/" either.
  condition {
    title       = "${var.name_prefix}-detect-default-only"
    description = "runwatch detect: Firestore on the (default) database only (its state), not notify's delivery records."
    expression  = "resource.name == \"${local.state_database_name}\" || resource.name.startsWith(\"${local.state_database_name}/\")"
  }

  # Adding the condition replaces this grant. The conditional binding is a separate one, so it is made before the
  # unconditional one is removed: detect keeps its access through an upgrade instead of being refused until IAM
  # catches up.
  lifecycle {
    create_before_destroy = true
  }
}

# detect reads Cloud Run revisions in the watched organization when the Admin API fallback is on (config correlation).
resource "google_organization_iam_member" "detect_run_viewer" {
  count  = var.admin_api_fallback && var.log_sink_scope == "organization" ? 1 : 0
  org_id = var.organization_id
  role   = "roles/run.viewer"
  member = google_service_account.detect.member
}

# detect reads Cloud Run revisions in the watched folder when the Admin API fallback is on (see above).
resource "google_folder_iam_member" "detect_run_viewer" {
  count  = var.admin_api_fallback && var.log_sink_scope == "folder" ? 1 : 0
  folder = "folders/${var.folder_id}"
  role   = "roles/run.viewer"
  member = google_service_account.detect.member
}

# detect reads Cloud Run revisions in the watched project when the Admin API fallback is on (see above).
resource "google_project_iam_member" "detect_run_viewer" {
  count   = var.admin_api_fallback && var.log_sink_scope == "project" ? 1 : 0
  project = local.sink_project_id
  role    = "roles/run.viewer"
  member  = google_service_account.detect.member
}

# detect publishes each finding it raises to the findings topic.
resource "google_pubsub_topic_iam_member" "detect_findings_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.findings.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.detect.member
}

# detect publishes input that can never succeed (not JSON, not a LogEntry) to the audit side's dead-letter topic.
resource "google_pubsub_topic_iam_member" "detect_dead_letter_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.detect.member
}

resource "google_cloudfunctions2_function" "detect" {
  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-detect"
  description = "runwatch detect: audit entry -> findings (config ${substr(local.config_sha256, 0, 12)})"
  labels      = var.labels

  build_config {
    runtime               = var.runtime
    entry_point           = "detect"
    service_account       = google_service_account.build.id
    environment_variables = var.build_environment_variables

    source {
      storage_source {
        bucket = local.function_source.bucket
        object = local.function_source.object
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.detect.email
    available_memory                 = var.detect_memory
    timeout_seconds                  = var.function_timeout_seconds
    min_instance_count               = var.min_instances
    max_instance_count               = var.detect_max_instances
    max_instance_request_concurrency = 1
    ingress_settings                 = var.ingress_settings
    all_traffic_on_latest_revision   = true
    environment_variables            = merge(local.common_env, local.endpoint_env.detect, { DEAD_LETTER_TOPIC = google_pubsub_topic.dead_letter.id })
  }

  depends_on = [
    google_project_iam_member.build_run_builder,
    google_storage_bucket_iam_member.build_source_reader,
    google_project_iam_member.detect_datastore_user,
    google_firestore_database.default,
  ]
}

resource "google_service_account" "detect_push" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-detect-push"
  display_name = "runwatch detect push"
  description  = "Pub/Sub signs pushes from the audit subscription to the detect function as this account."

  depends_on = [google_project_service.apis] # the IAM API, on a new project
}

# The audit subscription's OIDC identity may invoke the detect function's Cloud Run service, and nothing else.
resource "google_cloud_run_service_iam_member" "detect_push_invoker" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.detect.name
  role     = "roles/run.invoker"
  member   = google_service_account.detect_push.member
}

# Only for projects that enabled Pub/Sub on or before 2021-04-08: the service agent mints this account's push tokens.
resource "google_service_account_iam_member" "detect_push_token_creator" {
  count = var.grant_token_creator_to_pubsub_agent ? 1 : 0

  service_account_id = google_service_account.detect_push.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}

# ---------------------------------------------------------------------------------------------------------------------
# notify: one function, runtime identity and push identity per sink
# ---------------------------------------------------------------------------------------------------------------------

resource "google_service_account" "notify" {
  for_each = local.sinks

  project      = var.project_id
  account_id   = "${var.name_prefix}-${each.key}"
  display_name = "runwatch notify ${each.key}"
  description  = "Runtime identity of the notify-${each.key} function: delivers findings to ${each.key}."

  depends_on = [google_project_service.apis] # the IAM API, on a new project
}

# notify keeps a record per (sink, finding id) in the deliveries database only (never detect's baselines in (default)).
resource "google_project_iam_member" "notify_datastore_user" {
  for_each = local.sinks

  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.notify[each.key].member

  # IAM Conditions on the resource name: Firestore checks a document call against its database
  # (projects/P/databases/D); the prefix form covers a name below it. A database id has no "/", so neither form
  # reaches (default) or another database.
  condition {
    title       = "${var.name_prefix}-deliveries-only"
    description = "runwatch notify: Firestore on its delivery records' database only, not detect's baselines in (default)."
    expression  = "resource.name == \"${local.delivery_database_name}\" || resource.name.startsWith(\"${local.delivery_database_name}/\")"
  }
}

# notify-SINK publishes undeliverable findings to its own sink's dead-letter topic only (no other's, see main.tf).
resource "google_pubsub_topic_iam_member" "notify_dead_letter_publisher" {
  for_each = local.sinks

  project = var.project_id
  topic   = google_pubsub_topic.findings_dead_letter[each.key].name
  role    = "roles/pubsub.publisher"
  member  = google_service_account.notify[each.key].member
}

resource "google_cloudfunctions2_function" "notify" {
  for_each = local.sinks

  project     = var.project_id
  location    = var.region
  name        = "${var.name_prefix}-notify-${each.key}"
  description = "runwatch notify: findings -> ${each.key} (config ${substr(local.config_sha256, 0, 12)})"
  labels      = var.labels

  build_config {
    runtime               = var.runtime
    entry_point           = "notify"
    service_account       = google_service_account.build.id
    environment_variables = var.build_environment_variables

    source {
      storage_source {
        bucket = local.function_source.bucket
        object = local.function_source.object
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.notify[each.key].email
    available_memory                 = var.notify_memory
    timeout_seconds                  = var.function_timeout_seconds
    min_instance_count               = var.min_instances
    max_instance_count               = var.notify_max_instances
    max_instance_request_concurrency = 1
    ingress_settings                 = var.ingress_settings
    all_traffic_on_latest_revision   = true
    environment_variables            = merge(local.common_env, local.sink_env[each.key], lookup(local.endpoint_env, each.key, {}), { RUNWATCH_SINK = each.key, DEAD_LETTER_TOPIC = google_pubsub_topic.findings_dead_letter[each.key].id, DELIVERY_DATABASE = google_firestore_database.deliveries.name })

    # The sink's credentials (webhook: the URL too) come from Secret Manager at instance start; their values never
    # appear in Terraform.
    dynamic "secret_environment_variables" {
      for_each = { for name, secret in google_secret_manager_secret.sink : name => secret if local.secret_specs[name].sink == each.key }
      content {
        key        = local.secret_specs[secret_environment_variables.key].env
        project_id = var.project_id
        secret     = secret_environment_variables.value.secret_id
        version    = var.secret_versions[secret_environment_variables.key]
      }
    }
  }

  depends_on = [
    google_project_iam_member.build_run_builder,
    google_storage_bucket_iam_member.build_source_reader,
    google_project_iam_member.notify_datastore_user,
    google_secret_manager_secret_iam_member.notify_secret_accessor,
    google_scc_v2_organization_source_iam_member.notify_scc_findings_editor,
    google_organization_iam_member.notify_scc_findings_editor,
    google_firestore_database.deliveries,
  ]
}

resource "google_service_account" "notify_push" {
  for_each = local.sinks

  project      = var.project_id
  account_id   = "${var.name_prefix}-${each.key}-push"
  display_name = "runwatch notify ${each.key} push"
  description  = "Pub/Sub signs pushes from the findings-to-${each.key} subscription to notify-${each.key} as this account."

  depends_on = [google_project_service.apis] # the IAM API, on a new project
}

# Each findings subscription's OIDC identity may invoke its own notify function's Cloud Run service, and nothing else.
resource "google_cloud_run_service_iam_member" "notify_push_invoker" {
  for_each = local.sinks

  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.notify[each.key].name
  role     = "roles/run.invoker"
  member   = google_service_account.notify_push[each.key].member
}

# Only for projects that enabled Pub/Sub on or before 2021-04-08: the service agent mints this account's push tokens.
resource "google_service_account_iam_member" "notify_push_token_creator" {
  for_each = var.grant_token_creator_to_pubsub_agent ? local.sinks : toset([])

  service_account_id = google_service_account.notify_push[each.key].name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_service_agent
}
