// Public surface of revocation: records (origin), the snapshot builder (origin), the edge sync and the
// per-token check (edge). The filter itself is in ./filter.ts.
export {
  createRevocationReader,
  createRevocationWriter,
  isRevocableId,
  revocationKeys,
  type RevocationKind,
  type RevocationReader,
  type RevocationWriter,
  type RevocationWriterOptions,
} from './records.ts'
export { createOAuthRevoker, MAX_ACCESS_TOKEN_LIFETIME_SECONDS } from './oauth-revoker.ts'
export {
  createSnapshotBuilder,
  type RevocationLogger,
  type SnapshotBuilder,
  type SnapshotBuilderOptions,
  type SnapshotBuildResult,
} from './snapshot-builder.ts'
export { startSnapshotSchedule, type SnapshotSchedule } from './snapshot-schedule.ts'
export {
  createRevocationSync,
  type RevocationPolicy,
  type RevocationStatus,
  type RevocationSync,
  type RevocationSyncOptions,
} from './edge-sync.ts'
export {
  createRevocationCheck,
  RevocationChecker,
  withRevocationCheck,
  type RevocationCheck,
  type RevocationCheckOptions,
} from './revocation-check.ts'
