export interface TrainerGeneratorSchema {
  /** Framework name: apps/<name>, package @<scope>/<name>, command trainer-<name>. */
  name: string;
  skipInstall?: boolean;
  skipFormat?: boolean;
}
