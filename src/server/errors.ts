/**
 * What the manager refuses, as domain errors: it knows nothing of HTTP. The app's error handler
 * (`httpErrorOf` in http-error.ts) gives each its status and OpenAI error shape.
 */

/** A request the manager cannot take as asked. */
export abstract class ManagerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A pipeline without a processor. */
export class EmptyPipelineError extends ManagerError {
  constructor() {
    super('a pipeline needs at least one processor');
  }
}

/** A processor (model) this server does not offer. */
export class UnknownProcessorError extends ManagerError {
  constructor(
    readonly processor: string,
    readonly offered: readonly string[],
  ) {
    super(`unknown processor "${processor}": this server offers ${offered.join(', ')}`);
  }
}

/** A remote processor in a pipeline of several: it runs alone. */
export class PipelineNotAllowedError extends ManagerError {
  constructor(readonly processor: string) {
    super(`a remote processor (${processor}) runs alone: pipelines of several processors take local ones only`);
  }
}

/** Params a processor of the pipeline does not declare, or whose value it rejects. */
export class InvalidParamsError extends ManagerError {}
