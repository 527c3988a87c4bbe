/** One key's bucket: how many tokens it held at `updatedAt` (performance.now() milliseconds). */
export interface TokenBucket {
  tokens: number;
  updatedAt: number;
}

export interface BucketShape {
  /** Tokens added per second. */
  readonly rate: number;
  /** The most tokens a bucket holds: the largest burst. */
  readonly burst: number;
}

/** A bucket as a key that was never seen has it: full. */
export function createFullBucket(shape: BucketShape, now: number): TokenBucket {
  return { tokens: shape.burst, updatedAt: now };
}

/**
 * Takes one token if there is one. Returns 0 when the request may pass, else the whole
 * seconds until the next token (at least 1, as Retry-After counts in whole seconds).
 *
 * @example
 * const bucket = createFullBucket({ rate: 5, burst: 5 }, now);
 * takeToken(bucket, { rate: 5, burst: 5 }, now); // 0, four tokens left
 */
export function takeToken(bucket: TokenBucket, shape: BucketShape, now: number): number {
  refill(bucket, shape, now);
  if (bucket.tokens >= 1) {
    bucket.tokens -= 1;
    return 0;
  }
  return Math.max(1, Math.ceil((1 - bucket.tokens) / shape.rate));
}

/** Adds the tokens earned since the bucket was last looked at (up to its burst). */
export function refill(bucket: TokenBucket, shape: BucketShape, now: number): void {
  const elapsed = Math.max(0, now - bucket.updatedAt) / 1000;
  bucket.tokens = Math.min(shape.burst, bucket.tokens + elapsed * shape.rate);
  bucket.updatedAt = now;
}

/** Milliseconds after its last use by which any bucket has filled up again, whatever it held. */
export function refillTime(shape: BucketShape): number {
  return (shape.burst / shape.rate) * 1000;
}
