/**
 * An image's NLL with its class unknown, from its NLL under each class: −log p(x) with
 * p(x) = (1/N) Σ_y p(x | y), the N classes equally likely a priori; summed in the log
 * domain from the most likely class, since p(x | y) itself underflows (e^−100 and less).
 */
export function marginalNll(perClass: readonly Float32Array[]): Float32Array {
  const classes = perClass.length;
  return Float32Array.from(perClass[0], (_, b) => {
    let best = Infinity;
    for (const nll of perClass) best = Math.min(best, nll[b]);
    let sum = 0;
    for (const nll of perClass) sum += Math.exp(best - nll[b]);
    return best - Math.log(sum) + Math.log(classes);
  });
}
