# What is deployed, as pure expressions over the inputs (no provider involved, so a unit test evaluates them with
# `terraform console`): the files shipped from the package, where the config lands, and the source object's name.

locals {
  # The package is this repository unless told otherwise: terraform/modules/runwatch/../../.. is its root.
  package_dir = coalesce(var.package_dir, "${path.module}/../../..")

  config_sha256 = filesha256(var.config_path)
  # The extension in any case, as config_path's validation takes it (RUNWATCH.YAML ships as runwatch.yaml).
  config_ext = regex("\\.(ya?ml|json)$", lower(var.config_path))[0]

  # Where the config sits in the zip, and therefore in the deployed function (buildpacks run the app from /workspace).
  deployed_config_file = "runwatch-config/runwatch.${local.config_ext}"
  deployed_config_path = "/workspace/${local.deployed_config_file}"

  source_files = sort(distinct(flatten([
    for pattern in var.source_include : tolist(fileset(local.package_dir, pattern))
  ])))

  # One hash over every shipped file (name and content) and one over the config: either changing gives a new object
  # name, the functions point at the new object, and Cloud Functions rebuilds and redeploys them.
  source_sha256 = sha256(join("\n", [
    for f in local.source_files : "${f} ${filesha256("${local.package_dir}/${f}")}"
  ]))
  source_object_name = "${var.name_prefix}-src-${substr(local.source_sha256, 0, 16)}-cfg-${substr(local.config_sha256, 0, 16)}.zip"
}
