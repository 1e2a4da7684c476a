// On an emulator there are no credentials to look up. google-auth, finding no key file and no ADC file, asks the GCE
// metadata server last (169.254.169.254, metadata.google.internal: a request off the machine), through the client's
// universe-domain check before its first call, and prints a MetadataLookupWarning where none answers as one.

/**
 * Tells google-auth not to ask the metadata server when `emulatorHostVariable` (PUBSUB_EMULATOR_HOST,
 * FIRESTORE_EMULATOR_HOST) is set, unless METADATA_SERVER_DETECTION says otherwise. Call before the client loads.
 */
export function skipMetadataServerOnEmulator(emulatorHostVariable: 'PUBSUB_EMULATOR_HOST' | 'FIRESTORE_EMULATOR_HOST'): void {
  if (process.env[emulatorHostVariable] && process.env['METADATA_SERVER_DETECTION'] === undefined) process.env['METADATA_SERVER_DETECTION'] = 'none';
}
