/**
 * The one place this module (and its tests) reach outside workers/media/rtp: the project's
 * structured logger. If the logger moves, this line moves.
 */
export { Logger, setLogSink } from '../../kernel/logger';
