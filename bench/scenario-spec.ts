/**
 * What a benchmark scenario is. catalog.ts lists them, scenario.ts runs one and aggregate.ts
 * summarises what it measured; this file depends on neither, so they do not depend on each other.
 */
import type { Profile } from '../workers/protocol/media';
import type { ChurnPlan } from './churn';

export interface ScenarioSpec {
  key: string;
  title: string;
  rooms: number;
  perRoom: number;
  profile: Profile;
  recording: boolean;
  /** Server tree on CPU 0, this process on the others: measures the server per core. */
  pinned?: boolean;
  /** One extra participant joins and leaves repeatedly during the window (the N above stay). */
  churn?: ChurnPlan;
  /** VIDEO_ENCODE=shared: one VP8 encode per profile over the RTP-level stack (issue #17). */
  sharedEncode?: boolean;
}
