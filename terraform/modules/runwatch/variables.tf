# ---------------------------------------------------------------------------------------------------------------------
# Where runwatch runs
# ---------------------------------------------------------------------------------------------------------------------

variable "project_id" {
  type        = string
  description = "Project that hosts the pipeline: topics, subscriptions, functions, Firestore, secrets and the source bucket."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 characters: lowercase letters, digits, hyphens; starts with a letter)."
  }
}

variable "region" {
  type        = string
  description = "Region of the functions, the Cloud Scheduler job, the source bucket and (unless firestore_location is set) the Firestore databases when they are created, e.g. europe-west1. The databases cannot move: changing region later fails the plan until firestore_location names where they are."

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1 or europe-west1 (not a zone, not a multi-region)."
  }
}

variable "name_prefix" {
  type        = string
  description = "Prefix of every resource name (topics, subscriptions, functions, service accounts, secrets, the source bucket). Keep it short: service account IDs are limited to 30 characters. Not starting with goog (Pub/Sub refuses such names), and not containing google or a close misspelling such as g00gle (Cloud Storage refuses such bucket names)."
  default     = "runwatch"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,10}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 3-12 characters: lowercase letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }

  # It starts every topic and subscription name, and Pub/Sub refuses names that start with "goog".
  validation {
    condition     = !startswith(var.name_prefix, "goog")
    error_message = "name_prefix must not start with \"goog\": Pub/Sub refuses topic and subscription names that do."
  }

  # It is also in the source bucket's name (<project_id>-<prefix>-source), and Cloud Storage refuses bucket names that
  # contain "google" or close misspellings such as "g00gle" (cloud.google.com/storage/docs/buckets#naming).
  validation {
    condition     = !can(regex("g[o0][o0]+g[l1]e", var.name_prefix))
    error_message = "name_prefix must not contain \"google\" or a close misspelling such as \"g00gle\": it is part of the source bucket's name, and Cloud Storage refuses bucket names that do."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels applied to the topics, subscriptions, functions, secrets and the source bucket."
  default     = {}

  validation {
    condition = alltrue([
      for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k)) && can(regex("^[a-z0-9_-]{0,63}$", v))
    ])
    error_message = "Label keys must start with a lowercase letter; keys and values may contain only lowercase letters, digits, '_' and '-' (at most 63 characters)."
  }
}

variable "enable_apis" {
  type        = bool
  description = "Enable the Google APIs the pipeline needs in project_id. Set to false when APIs are managed elsewhere (they are never disabled on destroy)."
  default     = true
}

# ---------------------------------------------------------------------------------------------------------------------
# What is watched: the log sink
# ---------------------------------------------------------------------------------------------------------------------

variable "log_sink_scope" {
  type        = string
  description = "Where the log sink is created: \"organization\" (every project of organization_id), \"folder\" (folder_id) or \"project\" (log_sink_project_id, default project_id)."
  default     = "organization"

  validation {
    condition     = contains(["organization", "folder", "project"], var.log_sink_scope)
    error_message = "log_sink_scope must be one of: organization, folder, project."
  }
}

variable "organization_id" {
  type        = string
  description = "Numeric organization ID. Required when log_sink_scope is \"organization\" and when the scc sink is enabled (the SCC source belongs to the organization)."
  default     = null

  validation {
    condition     = var.organization_id == null || can(regex("^[0-9]{1,20}$", var.organization_id))
    error_message = "organization_id must be the numeric organization ID, e.g. \"123456789012\" (not \"organizations/123...\")."
  }

  validation {
    condition     = var.organization_id != null || (var.log_sink_scope != "organization" && !contains(var.sinks, "scc"))
    error_message = "organization_id is required when log_sink_scope is \"organization\" or when the \"scc\" sink is enabled."
  }
}

variable "folder_id" {
  type        = string
  description = "Numeric folder ID whose projects are watched. Required when log_sink_scope is \"folder\"."
  default     = null

  validation {
    condition     = var.folder_id == null || can(regex("^[0-9]{1,20}$", var.folder_id))
    error_message = "folder_id must be the numeric folder ID, e.g. \"987654321098\" (not \"folders/987...\")."
  }

  validation {
    condition     = var.log_sink_scope != "folder" || var.folder_id != null
    error_message = "folder_id is required when log_sink_scope is \"folder\"."
  }
}

variable "log_sink_project_id" {
  type        = string
  description = "Project whose audit logs are watched when log_sink_scope is \"project\". Defaults to project_id."
  default     = null

  validation {
    condition     = var.log_sink_project_id == null || can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.log_sink_project_id))
    error_message = "log_sink_project_id must be a project ID (6-30 characters: lowercase letters, digits, hyphens)."
  }
}

variable "include_children" {
  type        = bool
  description = "For organization and folder sinks: also route the entries of every folder and project below (aggregated sink). Without it only entries about the organization or folder itself are routed, which contain no Cloud Run changes."
  default     = true
}

# ---------------------------------------------------------------------------------------------------------------------
# Tuning: the config file and the package
# ---------------------------------------------------------------------------------------------------------------------

variable "config_path" {
  type        = string
  description = "Path of the runwatch config (YAML or JSON) in your repository. `terraform plan` validates it with `runwatch validate-config`; it is shipped beside the code and any change to it redeploys the functions."

  validation {
    condition     = can(regex("\\.(ya?ml|json)$", lower(var.config_path)))
    error_message = "config_path must name a .yaml, .yml or .json file."
  }

  validation {
    condition     = fileexists(var.config_path)
    error_message = "config_path does not name an existing file (relative paths are resolved from the directory you run terraform in; use \"$${path.module}/runwatch.yaml\" in the calling module)."
  }
}

variable "package_dir" {
  type        = string
  description = "Directory of the runwatch npm package (the one holding package.json) that is zipped into the function source. Default: the repository root this module lives in (three levels above terraform/modules/runwatch). The CLI must be built there (`npm ci && npm run build`) because plan runs `node <package_dir>/bin/runwatch.js validate-config`."
  default     = null

  validation {
    condition     = var.package_dir == null || fileexists("${coalesce(var.package_dir, ".")}/package.json")
    error_message = "package_dir must be a directory that contains package.json (the runwatch package root)."
  }
}

variable "source_include" {
  type        = list(string)
  description = "Globs, relative to package_dir, of the files zipped into the function source. The default ships the TypeScript sources with the lockfile; Cloud Build runs `npm ci` and `npm run build`. Only text files can be shipped (they are read with file())."
  default = [
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "tsconfig.build.json",
    "bin/**",
    "functions/**",
    "sinks/**",
    "schemas/**",
  ]

  validation {
    condition     = contains(var.source_include, "package.json") && alltrue([for g in var.source_include : !startswith(g, "/") && !strcontains(g, "..")])
    error_message = "source_include must contain \"package.json\" and only relative globs inside package_dir (no leading '/', no '..')."
  }
}

variable "build_environment_variables" {
  type        = map(string)
  description = "Build-time environment variables for the Cloud Functions build, e.g. { GOOGLE_NODE_RUN_SCRIPTS = \"\" } when source_include ships a prebuilt dist/ and the build script must not run."
  default     = {}
}

variable "runtime" {
  type        = string
  description = "Cloud Run functions runtime. nodejs20 was decommissioned on 2026-10-30 (no new deploys or updates: cloud.google.com/functions/docs/runtime-support), so the default is nodejs22; the package needs Node >= 20.12."
  default     = "nodejs22"

  validation {
    condition     = can(regex("^nodejs(2[2-9]|[3-9][0-9])$", var.runtime))
    error_message = "runtime must be a Node.js runtime ID of version 22 or later, e.g. nodejs22 or nodejs24 (nodejs20 was decommissioned on 2026-10-30)."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Where findings go
# ---------------------------------------------------------------------------------------------------------------------

variable "sinks" {
  type        = set(string)
  description = "Sinks to deploy: one notify function, one push subscription and one service account each. Any of scc, slack, pagerduty, webhook, console. Per-sink routing (minSeverity, rules, channels) lives in the config file."
  default     = ["console"]

  validation {
    condition     = length(var.sinks) > 0 && alltrue([for s in var.sinks : contains(["scc", "slack", "pagerduty", "webhook", "console"], s)])
    error_message = "sinks must be a non-empty subset of: scc, slack, pagerduty, webhook, console."
  }
}

variable "create_scc_source" {
  type        = bool
  description = "With the scc sink: create a Security Command Center source for runwatch findings in organization_id. Set to false and pass scc_source_name to use an existing source."
  default     = true

  validation {
    condition     = var.create_scc_source || var.scc_source_name != null || !contains(var.sinks, "scc")
    error_message = "With the scc sink, either create_scc_source = true or scc_source_name must be set."
  }
}

variable "scc_source_name" {
  type        = string
  description = "Existing SCC source of organization_id, \"organizations/ORG/sources/SOURCE\", used when create_scc_source is false (e.g. one made by `runwatch scc create-source`)."
  default     = null

  validation {
    condition     = var.scc_source_name == null || can(regex("^organizations/[0-9]+/sources/[0-9]+$", var.scc_source_name))
    error_message = "scc_source_name must look like organizations/123456789012/sources/1234567890123456789."
  }

  # notify-scc's grants name organization_id (on the source, or on the organization): the source must be one of its.
  validation {
    condition     = var.scc_source_name == null || var.organization_id == null || startswith(coalesce(var.scc_source_name, "-"), "organizations/${coalesce(var.organization_id, "-")}/sources/")
    error_message = "scc_source_name must be a source of organization_id (organizations/<organization_id>/sources/...)."
  }
}

variable "scc_source_display_name" {
  type        = string
  description = "Display name of the SCC source created when create_scc_source is true (unique in the organization)."
  default     = "runwatch"

  validation {
    condition     = can(regex("^[A-Za-z0-9]([A-Za-z0-9 _-]{0,30}[A-Za-z0-9])?$", var.scc_source_display_name))
    error_message = "scc_source_display_name must be 1-32 characters (letters, digits, spaces, '_' and '-'), starting and ending with a letter or digit."
  }
}

variable "scc_findings_editor_scope" {
  type        = string
  description = "Where notify-scc gets roles/securitycenter.findingsEditor: \"source\" (only runwatch's source, least privilege) or \"organization\" (the level Google's findings how-to uses; pick it if source-level grants are refused in your organization)."
  default     = "source"

  validation {
    condition     = contains(["source", "organization"], var.scc_findings_editor_scope)
    error_message = "scc_findings_editor_scope must be \"source\" or \"organization\"."
  }
}

variable "secret_versions" {
  type = object({
    slack       = optional(string, "latest")
    pagerduty   = optional(string, "latest")
    webhook     = optional(string, "latest")
    webhook_url = optional(string, "latest")
  })
  description = "Secret Manager version each secret is read at (\"latest\" or a version number): slack, pagerduty, webhook (signing key), webhook_url (the webhook sink's URL). Pin a number and bump it to roll a rotated secret out on the next apply; \"latest\" is read when an instance starts."
  default     = {}

  validation {
    condition     = alltrue([for v in values(var.secret_versions) : can(regex("^(latest|[1-9][0-9]*)$", v))])
    error_message = "Each secret version must be \"latest\" or a positive version number."
  }
}

variable "endpoints" {
  type = object({
    pagerduty_events_url = optional(string)
    slack_api_url        = optional(string)
    run_api_endpoint     = optional(string)
  })
  description = "Endpoints other than the public defaults: pagerduty_events_url for a PagerDuty account in the EU service region (\"https://events.eu.pagerduty.com/v2/enqueue\"), slack_api_url for GovSlack (\"https://slack-gov.com/api/\") or an egress proxy, run_api_endpoint (host[:port], gRPC over TLS) for the Admin API fallback's reads through a Private Service Connect endpoint. Each only with what it serves deployed (the sink, admin_api_fallback)."
  default     = {}

  # Every request to them carries the routing key or the Slack token: https only (the functions refuse plain http
  # to any host but loopback at start, sinks/index.ts). No query or fragment: the clients append paths.
  validation {
    condition     = alltrue([for url in [var.endpoints.pagerduty_events_url, var.endpoints.slack_api_url] : url == null || can(regex("^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^[:space:]?#]*)?$", url))])
    error_message = "endpoints.pagerduty_events_url and endpoints.slack_api_url must be https URLs without a query, e.g. \"https://events.eu.pagerduty.com/v2/enqueue\" (the routing key or the Slack token goes with every request)."
  }

  validation {
    condition     = var.endpoints.run_api_endpoint == null || can(regex("^[A-Za-z0-9.-]+(:[0-9]{1,5})?$", var.endpoints.run_api_endpoint))
    error_message = "endpoints.run_api_endpoint must be host or host:port, without a scheme, e.g. \"run-psc.p.googleapis.com\"."
  }

  # An endpoint for something not deployed is a mistake (a sink left out, or the fallback off): refused, not ignored.
  validation {
    condition = alltrue([
      var.endpoints.pagerduty_events_url == null || contains(var.sinks, "pagerduty"),
      var.endpoints.slack_api_url == null || contains(var.sinks, "slack"),
      var.endpoints.run_api_endpoint == null || var.admin_api_fallback,
    ])
    error_message = "Each endpoint needs what it serves: pagerduty_events_url the pagerduty sink, slack_api_url the slack sink, run_api_endpoint admin_api_fallback = true."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Delivery: Pub/Sub retries, dead-lettering, the sweep
# ---------------------------------------------------------------------------------------------------------------------

variable "max_delivery_attempts" {
  type        = number
  description = "Deliveries of one message to a function before Pub/Sub moves it to the dead-letter topic. With retry_minimum_backoff it must span notify's 75 s claim: (max_delivery_attempts - 1) x retry_minimum_backoff >= 75 s."
  default     = 10

  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100 && floor(var.max_delivery_attempts) == var.max_delivery_attempts
    error_message = "max_delivery_attempts must be a whole number from 5 to 100 (Pub/Sub's limits)."
  }

  # When a sink may have sent a finding all the same (a Slack timeout), notify keeps its claim for 75 s: the 45 s
  # delivery budget (DEFAULT_DELIVERY_BUDGET_MS, functions/notify.ts) plus LEASE_MARGIN_MS (sinks/deliver.ts). Each
  # redelivery inside the lease is refused and uses up an attempt. Pub/Sub waits at least the minimum backoff between
  # two deliveries, so the last of max_delivery_attempts comes (attempts - 1) x minimum backoff after the first at the
  # earliest: before the lease ends, the finding would be dead-lettered instead of sent again.
  validation {
    condition     = try(tonumber(trimsuffix(var.retry_minimum_backoff, "s")) * (var.max_delivery_attempts - 1) >= 75, false)
    error_message = "max_delivery_attempts - 1 times retry_minimum_backoff must be at least 75 seconds: when a sink may have sent a finding (a timeout), notify holds it for 75 s and refuses the redeliveries meanwhile, and a finding whose every delivery falls within that time is dead-lettered instead of sent again (e.g. 10 attempts with \"10s\", 5 with \"19s\")."
  }
}

variable "retry_minimum_backoff" {
  type        = string
  description = "Shortest wait before Pub/Sub redelivers a message the function rejected (duration in seconds, e.g. \"10s\"). See max_delivery_attempts."
  default     = "10s"

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?s$", var.retry_minimum_backoff)) && try(tonumber(trimsuffix(var.retry_minimum_backoff, "s")) <= 600, false)
    error_message = "retry_minimum_backoff must be a duration in seconds between \"0s\" and \"600s\"."
  }
}

variable "retry_maximum_backoff" {
  type        = string
  description = "Longest wait between redeliveries (duration in seconds, at most \"600s\")."
  default     = "600s"

  validation {
    condition     = can(regex("^[0-9]+(\\.[0-9]+)?s$", var.retry_maximum_backoff)) && try(tonumber(trimsuffix(var.retry_maximum_backoff, "s")) <= 600, false)
    error_message = "retry_maximum_backoff must be a duration in seconds between \"0s\" and \"600s\"."
  }

  validation {
    condition     = try(tonumber(trimsuffix(var.retry_maximum_backoff, "s")) >= tonumber(trimsuffix(var.retry_minimum_backoff, "s")), false)
    error_message = "retry_maximum_backoff must not be shorter than retry_minimum_backoff."
  }
}

variable "message_retention_duration" {
  type        = string
  description = "How long undelivered messages (and dead letters) are kept, e.g. \"604800s\" (7 days, Pub/Sub's default); at most \"2678400s\" (31 days, the maximum for a subscription), and at least as long as the retries may take: max_delivery_attempts x (function_timeout_seconds + retry_maximum_backoff). Unacknowledged messages kept over a day are billed as storage."
  default     = "604800s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.message_retention_duration)) && try(tonumber(trimsuffix(var.message_retention_duration, "s")) >= 600 && tonumber(trimsuffix(var.message_retention_duration, "s")) <= 2678400, false)
    error_message = "message_retention_duration must be whole seconds between \"600s\" (10 minutes) and \"2678400s\" (31 days, Pub/Sub's maximum for a subscription)."
  }

  # Pub/Sub may discard a message once it is older than the retention, acknowledged or not (Subscription properties,
  # "Message retention duration"): discarded, not dead-lettered. Each of max_delivery_attempts deliveries may take the
  # ack deadline (the function timeout) and wait up to the maximum backoff before the next, so the retention must cover
  # that many of both, or a message that keeps failing vanishes instead of reaching the dead-letter topic.
  validation {
    condition     = try(tonumber(trimsuffix(var.message_retention_duration, "s")) >= var.max_delivery_attempts * (var.function_timeout_seconds + tonumber(trimsuffix(var.retry_maximum_backoff, "s"))), false)
    error_message = "message_retention_duration must be at least max_delivery_attempts x (function_timeout_seconds + retry_maximum_backoff) (6600 s with the defaults): Pub/Sub discards a message older than the retention, and one still being retried would vanish instead of reaching the dead-letter topic."
  }
}

variable "sweep_schedule" {
  type        = string
  description = "Cron schedule (UTC) of the Cloud Scheduler job that publishes {\"runwatch\":\"sweep\"} to the audit topic, so detect flushes correlations whose other half never arrived."
  default     = "*/5 * * * *"

  validation {
    condition     = length(split(" ", trimspace(var.sweep_schedule))) == 5
    error_message = "sweep_schedule must be a five-field cron expression, e.g. \"*/5 * * * *\"."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# Function sizing
# ---------------------------------------------------------------------------------------------------------------------

variable "function_timeout_seconds" {
  type        = number
  description = "Request timeout of both functions; also the push subscriptions' ack deadline, so Pub/Sub waits exactly as long as a function may run."
  default     = 60

  # notify spends up to 45 s on one delivery, retries included (DEFAULT_DELIVERY_BUDGET_MS in functions/notify.ts),
  # then records the outcome or dead-letters the message: a shorter timeout kills it mid-delivery, and Pub/Sub
  # redelivers a message whose delivery may already have gone out.
  validation {
    condition     = var.function_timeout_seconds >= 60 && var.function_timeout_seconds <= 540 && floor(var.function_timeout_seconds) == var.function_timeout_seconds
    error_message = "function_timeout_seconds must be a whole number from 60 to 540: notify may spend 45 s delivering one finding (retries included) and needs time left to record the outcome or dead-letter it; 540 is the event-driven function maximum."
  }
}

variable "detect_memory" {
  type        = string
  description = "Memory of the detect function, e.g. \"512Mi\"; from \"128Mi\" to \"32Gi\"."
  default     = "512Mi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.detect_memory))
    error_message = "detect_memory must be a size such as \"256Mi\", \"512Mi\" or \"1Gi\"."
  }

  # Cloud Run functions offer 128 MiB to 32 GiB (cloud.google.com/functions/docs/configuring/memory).
  validation {
    condition     = try(alltrue([for mib in [tonumber(regex("^[0-9]+", var.detect_memory)) * (endswith(var.detect_memory, "Gi") ? 1024 : 1)] : mib >= 128 && mib <= 32768]), false)
    error_message = "detect_memory must be from \"128Mi\" to \"32Gi\", the memory sizes Cloud Run functions offer."
  }
}

variable "notify_memory" {
  type        = string
  description = "Memory of each notify function, e.g. \"256Mi\"; from \"128Mi\" to \"32Gi\"."
  default     = "256Mi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.notify_memory))
    error_message = "notify_memory must be a size such as \"256Mi\", \"512Mi\" or \"1Gi\"."
  }

  # Cloud Run functions offer 128 MiB to 32 GiB (cloud.google.com/functions/docs/configuring/memory).
  validation {
    condition     = try(alltrue([for mib in [tonumber(regex("^[0-9]+", var.notify_memory)) * (endswith(var.notify_memory, "Gi") ? 1024 : 1)] : mib >= 128 && mib <= 32768]), false)
    error_message = "notify_memory must be from \"128Mi\" to \"32Gi\", the memory sizes Cloud Run functions offer."
  }
}

variable "detect_max_instances" {
  type        = number
  description = "Upper bound on detect instances (bounds cost and Firestore contention during a burst of deploys)."
  default     = 10

  validation {
    condition     = var.detect_max_instances >= 1 && var.detect_max_instances <= 1000 && floor(var.detect_max_instances) == var.detect_max_instances
    error_message = "detect_max_instances must be a whole number from 1 to 1000."
  }
}

variable "notify_max_instances" {
  type        = number
  description = "Upper bound on instances of each notify function (keeps bursts within Slack's and PagerDuty's rate limits)."
  default     = 5

  validation {
    condition     = var.notify_max_instances >= 1 && var.notify_max_instances <= 1000 && floor(var.notify_max_instances) == var.notify_max_instances
    error_message = "notify_max_instances must be a whole number from 1 to 1000."
  }
}

variable "min_instances" {
  type        = number
  description = "Instances kept warm per function, at most detect_max_instances and notify_max_instances. 0 scales to zero (cold starts add latency to the first alert after a quiet period, and cost nothing)."
  default     = 0

  validation {
    condition     = var.min_instances >= 0 && var.min_instances <= 10 && floor(var.min_instances) == var.min_instances
    error_message = "min_instances must be a whole number from 0 to 10."
  }

  # A function's maximum instance count must not be less than its minimum (Cloud Run scaling): apply would fail.
  validation {
    condition     = var.min_instances <= var.detect_max_instances && var.min_instances <= var.notify_max_instances
    error_message = "min_instances must not exceed detect_max_instances or notify_max_instances (each function's maximum instance count must not be less than its minimum)."
  }
}

variable "ingress_settings" {
  type        = string
  description = "Network ingress of the functions. ALLOW_INTERNAL_ONLY keeps the internet off their URLs: Cloud Run counts Pub/Sub push from the same project as internal, and the push subscriptions are the only callers. Every request is authenticated on top (only the push service accounts hold run.invoker). ALLOW_ALL only if your setup needs it."
  default     = "ALLOW_INTERNAL_ONLY"

  validation {
    condition     = contains(["ALLOW_ALL", "ALLOW_INTERNAL_ONLY", "ALLOW_INTERNAL_AND_GCLB"], var.ingress_settings)
    error_message = "ingress_settings must be one of: ALLOW_ALL, ALLOW_INTERNAL_ONLY, ALLOW_INTERNAL_AND_GCLB."
  }
}

# ---------------------------------------------------------------------------------------------------------------------
# State: Firestore
# ---------------------------------------------------------------------------------------------------------------------

variable "create_firestore_database" {
  type        = bool
  description = "Create the (default) Firestore database in native mode. Set to false if project_id already has one (it must be in native mode)."
  default     = true
}

variable "firestore_location" {
  type        = string
  description = "Firestore location: a region (e.g. europe-west1) or a multi-region (nam5, eur3). Defaults to region. Cannot be changed after creation: a plan whose location (this, or region) differs from the databases' fails and says where they are."
  default     = null

  validation {
    condition     = var.firestore_location == null || can(regex("^([a-z]+-[a-z]+[0-9]+|nam[0-9]+|eur[0-9]+)$", var.firestore_location))
    error_message = "firestore_location must be a region such as europe-west1 or a multi-region such as nam5 or eur3."
  }
}

variable "grant_token_creator_to_pubsub_agent" {
  type        = bool
  description = "Grant the Pub/Sub service agent roles/iam.serviceAccountTokenCreator on each push service account. Only projects that enabled Pub/Sub on or before 2021-04-08 need it to mint the OIDC tokens of push requests."
  default     = false
}

variable "admin_api_fallback" {
  type        = bool
  description = "Set when the config enables correlation.adminApiFallback: grants the detect identity roles/run.viewer where the log sink watches (the organization, the folder or the project), so it can read a revision through the Cloud Run Admin API when its system events do not come."
  default     = false
}

variable "job_run_audit_logs" {
  type        = bool
  description = "Enable Data Access audit logs (DATA_WRITE) for run.googleapis.com where the log sink watches (the organization, the folder or the project), so Cloud Run job runs are logged and the job-run-overrides rule sees runs that override a job's arguments or environment. Authoritative for run.googleapis.com's audit config there: it replaces what was set for that service."
  default     = false
}

# ---------------------------------------------------------------------------------------------------------------------
# Alerting: Cloud Monitoring alert policies (monitoring.tf)
# ---------------------------------------------------------------------------------------------------------------------

variable "alert_notification_channels" {
  type        = list(string)
  description = "Cloud Monitoring notification channels (projects/P/notificationChannels/N, e.g. from `gcloud beta monitoring channels list`) told when the pipeline fails: letters in a dead-letter hold, a push subscription backing up, a function logging errors or refusing to serve, the log sink gone quiet. Channels of project_id, where the policies are: one of another project is refused at apply (404 Notification channel not found, hashicorp/terraform-provider-google#25878). Empty: no alert policy is created."
  default     = []

  validation {
    condition     = alltrue([for c in var.alert_notification_channels : can(regex("^projects/[^/]+/notificationChannels/[0-9]+$", c))])
    error_message = "alert_notification_channels must be notification channel names such as projects/my-project/notificationChannels/1234567890 (gcloud beta monitoring channels list prints them)."
  }
}

variable "alert_sink_quiet_duration" {
  type        = string
  description = "How long detect may receive no audit entry from the log sink before the sink-quiet alert fires, at any sink scope (whole seconds, \"3600s\" to \"86400s\", Cloud Monitoring's longest metric-absence window). A day with no Cloud Run deploy and no IAM change anywhere the sink watches also fires it: lower it only where changes come every few hours."
  default     = "86400s"

  validation {
    condition     = can(regex("^[0-9]+s$", var.alert_sink_quiet_duration)) && try(tonumber(trimsuffix(var.alert_sink_quiet_duration, "s")) >= 3600 && tonumber(trimsuffix(var.alert_sink_quiet_duration, "s")) <= 86400, false)
    error_message = "alert_sink_quiet_duration must be whole seconds from \"3600s\" (log-based and export metrics show up minutes late) to \"86400s\" (24 hours, the longest metric-absence window Cloud Monitoring takes)."
  }
}
