# Tuning through config: the user's config file is validated during plan, zipped beside the code, and named in the
# source object so that editing it redeploys both functions.

# `terraform plan` fails here, before anything changes, when the config is invalid: the script runs the package's own
# `runwatch validate-config` and reports each error as `path: reason` (external program protocol: strings on stdout,
# or a non-zero exit with the errors on stderr).
data "external" "validate_config" {
  program = ["node", "${path.module}/scripts/validate-config.mjs"]

  query = {
    package_dir = local.package_dir
    config_path = var.config_path
    sinks       = join(",", sort(tolist(var.sinks))) # the slack sink needs a channel in the config
  }
}

data "archive_file" "source" {
  type        = "zip"
  output_path = "${path.root}/.terraform/runwatch-build/${local.source_object_name}"

  dynamic "source" {
    for_each = local.source_files
    content {
      content  = file("${local.package_dir}/${source.value}")
      filename = source.value
    }
  }

  source {
    content  = file(var.config_path)
    filename = local.deployed_config_file
  }
}

resource "google_storage_bucket" "source" {
  project                     = var.project_id
  name                        = "${var.project_id}-${var.name_prefix}-source"
  location                    = var.region
  labels                      = var.labels
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = true # holds only build inputs that Terraform re-creates

  depends_on = [google_project_service.apis]
}

resource "google_storage_bucket_object" "source" {
  bucket = google_storage_bucket.source.name
  name   = local.source_object_name
  source = data.archive_file.source.output_path

  lifecycle {
    precondition {
      condition     = data.external.validate_config.result.valid == "true" && data.external.validate_config.result.config_sha256 == local.config_sha256
      error_message = "The config shipped to the functions must be the one `runwatch validate-config` accepted during this plan."
    }

    # run.viewer follows admin_api_fallback: without it a config that turns the fallback on gets PERMISSION_DENIED on
    # every read; with it and the fallback off, detect holds read access to every Cloud Run service it never uses.
    precondition {
      condition     = data.external.validate_config.result.admin_api_fallback == tostring(var.admin_api_fallback)
      error_message = "admin_api_fallback must match the config's correlation.adminApiFallback.enabled (config: ${data.external.validate_config.result.admin_api_fallback}, module: ${var.admin_api_fallback}): the module grants the detect identity roles/run.viewer only for the fallback."
    }
  }
}
