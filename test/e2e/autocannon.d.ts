// The part of autocannon's API the e2e tests use (the package ships no types).
declare module "autocannon" {
  interface RequestSpec {
    method?: string;
    path: string;
    headers?: Record<string, string>;
    body?: string;
    setupRequest?: (req: Record<string, unknown>) => Record<string, unknown>;
    onResponse?: (status: number, body: string) => void;
  }
  interface Options {
    url: string;
    connections?: number;
    amount?: number;
    duration?: number;
    timeout?: number;
    requests?: RequestSpec[];
  }
  interface Result {
    errors: number;
    timeouts: number;
    non2xx: number;
    "2xx": number;
    duration: number;
  }
  export default function autocannon(opts: Options): Promise<Result>;
}
