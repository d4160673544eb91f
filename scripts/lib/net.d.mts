/** A free loopback TCP port. */
export declare function freePort(): Promise<number>;
