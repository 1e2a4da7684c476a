# Security Command Center: the source runwatch findings live under, and notify-scc's right to write them.

locals {
  create_scc_source = contains(var.sinks, "scc") && var.create_scc_source && var.scc_source_name == null
  scc_source_name   = var.scc_source_name != null ? var.scc_source_name : one(google_scc_v2_organization_source.runwatch[*].name)
}

resource "google_scc_v2_organization_source" "runwatch" {
  count = local.create_scc_source ? 1 : 0

  organization = var.organization_id
  display_name = var.scc_source_display_name
  description  = "Risky Cloud Run changes (off-window deploys, service account changes, new image repositories, public invokers) raised by runwatch."

  depends_on = [google_project_service.apis]
}

# notify-scc upserts findings (v2 updateFinding) under runwatch's source only.
resource "google_scc_v2_organization_source_iam_member" "notify_scc_findings_editor" {
  count = contains(var.sinks, "scc") && var.scc_findings_editor_scope == "source" ? 1 : 0

  organization = var.organization_id
  source       = local.scc_source_name
  role         = "roles/securitycenter.findingsEditor"
  member       = google_service_account.notify["scc"].member
}

# Fallback when source-level grants are refused: Google's findings how-to grants findingsEditor at organization level.
resource "google_organization_iam_member" "notify_scc_findings_editor" {
  count = contains(var.sinks, "scc") && var.scc_findings_editor_scope == "organization" ? 1 : 0

  org_id = var.organization_id
  role   = "roles/securitycenter.findingsEditor"
  member = google_service_account.notify["scc"].member
}
