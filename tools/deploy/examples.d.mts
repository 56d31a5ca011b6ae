export declare const ROOT: string;
export interface ShippedApp {
  name: string;
  version: string;
  root: string;
  bin: string;
}
export declare function shippedApps(): ShippedApp[];
export declare function exampleFlags(app: ShippedApp): Record<string, string[]>;
