import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { availableParallelism } from 'node:os';
import type { ParticipantRole, Profile } from '../../workers/protocol/media';
import type { AppConfig } from '../config/config';
import { APP_CONFIG } from '../config/config.module';
import { ServerBusyError } from '../common/errors';
import { Logger } from '../common/logger';
import { MediaSupervisor } from '../media/media-supervisor.service';
import {
  costOf,
  refusal,
  roomUnits,
  type AdmissionPolicy,
  type NodeLoad,
  type ParticipantLoad,
} from './capacity-model';
import { processTreeCpuSeconds } from './process-tree-cpu';

/** How often the process tree's CPU is sampled. */
const CPU_SAMPLE_MS = 2000;
/** A worker's lag counts when its last this-many reports (2 s apart) all show it: sustained. */
const SUSTAINED_REPORTS = 2;

/** A join's units held while it is under way; release() when it succeeded or failed. */
export interface Admission {
  readonly cost: number;
  release(): void;
}

/**
 * This node's capacity model and admission control. Capacity is NODE_CAPACITY standard units;
 * each participant costs units by role and profile (config `load.costs`); a join is admitted
 * while the committed units stay within ADMISSION_LIMIT of the capacity and the measured CPU of
 * the process tree and the media workers' event-loop delay say the node keeps up.
 * `snapshot()` is what the rest of the system (readiness, metrics, the cluster registry) reads.
 */
@Injectable()
export class LoadService implements OnModuleInit, OnApplicationShutdown {
  private readonly log = new Logger('load');
  private readonly policy: AdmissionPolicy;
  private committedSource: () => number = () => 0;
  private reserved = 0;
  private cpuLoad = 0;
  /** The last few CPU readings: the load is taken over all of them (~4 s), not one blip. */
  private readonly cpuReadings: { seconds: number; at: number }[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** Per room: the event-loop delays of its worker's last reports, newest last. */
  private readonly loopDelays = new Map<string, number[]>();
  private readonly cores = availableParallelism();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly supervisor: MediaSupervisor,
  ) {
    this.policy = {
      capacity: config.load.capacity,
      limit: config.load.admissionLimit,
      maxLoopDelayMs: config.load.maxLoopDelayMs,
    };
  }

  onModuleInit(): void {
    this.supervisor.on('notification', (roomId, n) => {
      if (n.event !== 'room.load') return;
      const list = this.loopDelays.get(roomId) ?? [];
      list.push(n.data.loopDelayP99Ms);
      if (list.length > SUSTAINED_REPORTS) list.shift();
      this.loopDelays.set(roomId, list);
    });
    this.sampleCpu();
    this.timer = setInterval(() => this.sampleCpu(), CPU_SAMPLE_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The sessions' live participants in units (SessionsService registers it). */
  setCommittedSource(source: () => number): void {
    this.committedSource = source;
  }

  costOf(role: ParticipantRole, profile: Profile, audioOnly = false): number {
    return costOf(this.config.load.costs, { role, profile, audioOnly } satisfies ParticipantLoad);
  }

  /** A room's participants together, with its shared encodes (capacity-model's roomUnits). */
  roomUnits(members: Iterable<ParticipantLoad>): number {
    return roomUnits(this.config.load.costs, members);
  }

  snapshot(): NodeLoad {
    const state = this.state();
    // Full: a new call would be refused (a standard publisher opening a room, with its encode).
    const newRoom = this.roomUnits([{ role: 'publisher', profile: 'standard' }]);
    return { capacity: this.policy.capacity, ...state, full: refusal(this.policy, state, newRoom) !== null };
  }

  /** Holds `cost` units for a join, or throws ServerBusyError (nothing held then). */
  admit(cost: number, ids: { roomId: string; identity: string }): Admission {
    const state = this.state();
    const why = refusal(this.policy, state, cost);
    if (why) {
      this.log.warn('join refused: server busy', { ...ids, cost, ...state, reason: why });
      throw new ServerBusyError(`${why}; try again later`);
    }
    this.reserved += cost;
    let held = true;
    return {
      cost,
      release: () => {
        if (held) this.reserved -= cost;
        held = false;
      },
    };
  }

  private state(): Omit<NodeLoad, 'full' | 'capacity'> {
    const live = new Set(this.supervisor.roomIds());
    let loopDelayMs = 0;
    for (const [roomId, delays] of this.loopDelays) {
      if (!live.has(roomId)) {
        this.loopDelays.delete(roomId);
        continue;
      }
      if (delays.length >= SUSTAINED_REPORTS) loopDelayMs = Math.max(loopDelayMs, Math.min(...delays));
    }
    return {
      committed: round2(this.committedSource() + this.reserved),
      cpuLoad: round2(this.cpuLoad),
      loopDelayMs: Math.round(loopDelayMs),
    };
  }

  private sampleCpu(): void {
    const seconds = processTreeCpuSeconds(process.pid);
    const at = performance.now();
    if (seconds === null) return;
    this.cpuReadings.push({ seconds, at });
    if (this.cpuReadings.length > 3) this.cpuReadings.shift();
    const first = this.cpuReadings[0];
    if (at > first.at) {
      const used = Math.max(0, seconds - first.seconds);
      this.cpuLoad = used / ((at - first.at) / 1000) / this.cores;
    }
  }
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
