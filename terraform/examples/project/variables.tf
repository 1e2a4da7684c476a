variable "project_id" {
  type        = string
  description = "Project that hosts runwatch and, by default, the one whose Cloud Run services are watched."
}

variable "region" {
  type        = string
  description = "Region of the functions and the Firestore database, e.g. us-central1."
  default     = "us-central1"
}

variable "watched_project_id" {
  type        = string
  description = "Project whose audit logs are watched; defaults to project_id."
  default     = null
}

variable "sinks" {
  type        = set(string)
  description = "Where findings go: any of slack, pagerduty, webhook, console (scc needs an organization)."
  default     = ["slack", "console"]
}

variable "slack_secret_version" {
  type        = string
  description = "Version of the Slack token secret the function reads (\"latest\" or a number; bump after rotating)."
  default     = "latest"
}

variable "pagerduty_secret_version" {
  type        = string
  description = "Version of the PagerDuty routing key secret the function reads (\"latest\" or a number; bump after rotating)."
  default     = "latest"
}

variable "webhook_secret_version" {
  type        = string
  description = "Version of the webhook signing key secret the function reads (\"latest\" or a number; bump after rotating)."
  default     = "latest"
}

variable "webhook_url_secret_version" {
  type        = string
  description = "Version of the webhook URL secret the function reads (\"latest\" or a number; bump after rotating)."
  default     = "latest"
}

variable "alert_notification_channels" {
  type        = list(string)
  description = "Cloud Monitoring notification channels (projects/P/notificationChannels/N) told when the pipeline fails; empty: no alert policies."
  default     = []
}
