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

/** Whose fault a failed attempt was, and what it says of the endpoint. */
export interface AttemptFault {
  /**
   * The item's (an {"error"} line, a 4xx): counts against its retries. Not the endpoint's
   * (connection lost, idle, 5xx, a broken stream).
   */
  readonly charged: boolean;
  /** The endpoint itself looks gone (connection refused or reset): out of rotation until its next good check. */
  readonly endpointDown?: boolean;
  /** The processor's own message (an {"error"} line or a /complete error), shown as it is. */
  readonly fromProcessor?: boolean;
}

/** One attempt on an endpoint that did not give a result; see AttemptFault for the fields. */
export class AttemptFailure extends Error {
  readonly charged: boolean;
  readonly endpointDown: boolean;
  readonly fromProcessor: boolean;

  constructor(message: string, fault: AttemptFault) {
    super(message);
    this.name = 'AttemptFailure';
    this.charged = fault.charged;
    this.endpointDown = fault.endpointDown ?? false;
    this.fromProcessor = fault.fromProcessor ?? false;
  }
}

/** A remote job that cannot be run as asked (a pipeline of several stages). */
export class RemoteJobError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoteJobError';
  }
}
