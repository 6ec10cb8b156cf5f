/**
 * The control plane logs through the shared kernel's logger: one sink and one level per
 * process, whichever side a module belongs to.
 */
export * from '../../workers/kernel/logger';
