# Cloud Run job runs are Data Access entries (DATA_WRITE), which Cloud Audit Logs writes only where they are enabled:
# the job-run-overrides rule reads them. Opt in with job_run_audit_logs, where the log sink watches. An audit config
# is authoritative for its service on its resource: it replaces what was set for run.googleapis.com there (add
# DATA_READ or exemptions to it by hand if they were set).

resource "google_organization_iam_audit_config" "run_data_write" {
  count   = var.job_run_audit_logs && var.log_sink_scope == "organization" ? 1 : 0
  org_id  = var.organization_id
  service = "run.googleapis.com"

  audit_log_config {
    log_type = "DATA_WRITE"
  }

  depends_on = [google_project_service.apis]
}

resource "google_folder_iam_audit_config" "run_data_write" {
  count   = var.job_run_audit_logs && var.log_sink_scope == "folder" ? 1 : 0
  folder  = "folders/${var.folder_id}"
  service = "run.googleapis.com"

  audit_log_config {
    log_type = "DATA_WRITE"
  }

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_audit_config" "run_data_write" {
  count   = var.job_run_audit_logs && var.log_sink_scope == "project" ? 1 : 0
  project = local.sink_project_id
  service = "run.googleapis.com"

  audit_log_config {
    log_type = "DATA_WRITE"
  }

  depends_on = [google_project_service.apis]
}
