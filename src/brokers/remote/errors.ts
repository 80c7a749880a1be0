/** Typed errors of the remote-processor side, each with a one-line message. */
import { ErrorType } from './wire.js';

/** A registration the manager refuses: `status` and `type` go into the JSON error answer. */
export class RegistrationError extends Error {
  constructor(
    readonly status: 400 | 409 | 502,
    message: string,
    readonly type: string = status === 400 ? ErrorType.invalid : status === 409 ? ErrorType.mismatch : ErrorType.unreachable,
  ) {
    super(message);
    this.name = 'RegistrationError';
  }
}

/**
 * One attempt on an endpoint that did not give a result. `charged` says whose fault it was: the
 * item's (an {"error"} line, a 4xx) counts against its retries; the endpoint's (connection
 * lost, idle, 5xx, a broken stream) does not. `endpointDown` means the endpoint itself looks
 * gone (connection refused or reset): take it out of rotation until its next good check.
 */
export class AttemptFailure extends Error {
  constructor(
    message: string,
    readonly charged: boolean,
    readonly endpointDown: boolean = false,
    /** The processor's own message (an {"error"} line or a /complete error), shown as it is. */
    readonly fromProcessor: boolean = false,
  ) {
    super(message);
    this.name = 'AttemptFailure';
  }
}

/** A remote job that cannot be run as asked (a pipeline of several stages). */
export class RemoteJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoteJobError';
  }
}
