namespace Sprinter.Engine;

/// <summary>
/// Float arrays kept by exact length while a model loads: a layer's q, k, v, MLP and concatenated
/// matrices have the same sizes in every layer, so with reuse the load touches fresh memory once per
/// shape instead of once per tensor. First touch of fresh pages is what made loads slow: a new 1 GiB
/// array took 3.1 s to fill on this VM (2 vCPUs, Zen 5), where decoding its Q4_K blocks took 0.4 s.
/// Rented arrays are not cleared; callers overwrite them whole. Not thread-safe: one per load.
/// </summary>
public sealed class FloatArrayPool
{
    readonly Dictionary<long, Stack<float[]>> _free = [];

    public float[] Rent(long length) => _free.TryGetValue(length, out var stack) && stack.Count > 0 ? stack.Pop() : new float[length];

    public void Return(float[] array)
    {
        if (!_free.TryGetValue(array.Length, out var stack)) _free[array.Length] = stack = new Stack<float[]>();
        stack.Push(array);
    }
}
