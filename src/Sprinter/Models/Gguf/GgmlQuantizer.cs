namespace Sprinter.Models.Gguf;

/// <summary>
/// llama.cpp's reference quantizers without an importance matrix (<c>quantize_row_q4_0_ref</c>,
/// <c>quantize_row_q4_K_ref</c> with <c>make_qkx2_quants</c>), written as the same float operations
/// in the same order, so that the blocks are bit for bit libggml's (ggml-base is compiled without
/// FMA contraction and .NET never fuses, so no step can round differently). The tests compare the
/// bytes with libggml's own on many value distributions.
/// </summary>
public static unsafe class GgmlQuantizer
{
    /// <summary>Quantizes <paramref name="n"/> floats (a multiple of the type's block size) into GGML blocks.</summary>
    public static void Quantize(GgmlType type, float* x, byte* y, long n)
    {
        int block = GgmlTypes.BlockSize(type), bytes = GgmlTypes.BlockBytes(type);
        if (n % block != 0) throw new ArgumentException($"{n} values do not fill whole {GgmlTypes.Name(type)} blocks of {block}.");
        for (long b = 0; b < n / block; b++)
        {
            switch (type)
            {
                case GgmlType.Q4_0: Q4_0(x + b * block, y + b * bytes); break;
                case GgmlType.Q4_K: Q4_K(x + b * block, y + b * bytes); break;
                default: throw new ArgumentOutOfRangeException(nameof(type), $"no quantizer for {GgmlTypes.Name(type)}");
            }
        }
    }

    static void Q4_0(float* x, byte* y)
    {
        float amax = 0, max = 0;
        for (int j = 0; j < 32; j++)
        {
            float v = x[j];
            if (amax < MathF.Abs(v)) { amax = MathF.Abs(v); max = v; }
        }
        float d = max / -8;
        float id = d != 0 ? 1.0f / d : 0.0f;
        *(Half*)y = (Half)d;
        for (int j = 0; j < 16; j++)
        {
            float x0 = x[j] * id, x1 = x[16 + j] * id;
            // (int8_t) truncates toward zero, as C's cast.
            int xi0 = Math.Min(15, (int)(sbyte)(int)(x0 + 8.5f));
            int xi1 = Math.Min(15, (int)(sbyte)(int)(x1 + 8.5f));
            y[2 + j] = (byte)(xi0 | xi1 << 4);
        }
    }

    /// <summary>ggml's nearest_int: round half to even through the float adder.</summary>
    static int NearestInt(float f)
    {
        float val = f + 12582912f;
        int i = BitConverter.SingleToInt32Bits(val);
        return (i & 0x007fffff) - 0x00400000;
    }

    static void Q4_K(float* x, byte* y)
    {
        byte* L = stackalloc byte[256];
        byte* laux = stackalloc byte[32];
        float* weights = stackalloc float[32];
        float* mins = stackalloc float[8];
        float* scales = stackalloc float[8];
        float maxScale = 0, maxMin = 0;
        for (int j = 0; j < 8; j++)
        {
            float sumX2 = 0;
            for (int l = 0; l < 32; l++) sumX2 += x[32 * j + l] * x[32 * j + l];
            float avX = MathF.Sqrt(sumX2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = avX + MathF.Abs(x[32 * j + l]);
            scales[j] = MakeQkx2Quants(32, 15, x + 32 * j, weights, L + 32 * j, out mins[j], laux, -1f, 0.1f, 20);
            if (scales[j] > maxScale) maxScale = scales[j];
            if (mins[j] > maxMin) maxMin = mins[j];
        }
        float invScale = maxScale > 0 ? 63f / maxScale : 0f;
        float invMin = maxMin > 0 ? 63f / maxMin : 0f;
        byte* packed = y + 4;
        new Span<byte>(packed, 12).Clear();
        for (int j = 0; j < 8; j++)
        {
            int ls = Math.Min(63, NearestInt(invScale * scales[j]));
            int lm = Math.Min(63, NearestInt(invMin * mins[j]));
            if (j < 4)
            {
                packed[j] = (byte)ls;
                packed[j + 4] = (byte)lm;
            }
            else
            {
                packed[j + 4] = (byte)((ls & 0xF) | ((lm & 0xF) << 4));
                packed[j - 4] |= (byte)((ls >> 4) << 6);
                packed[j] |= (byte)((lm >> 4) << 6);
            }
        }
        *(Half*)y = (Half)(maxScale / 63f);
        *(Half*)(y + 2) = (Half)(maxMin / 63f);
        float dAll = (float)*(Half*)y, dminAll = (float)*(Half*)(y + 2);
        for (int j = 0; j < 8; j++)
        {
            ScaleMinK4(packed, j, out int sc, out int m);
            float d = dAll * sc;
            if (d == 0) continue;
            float dm = dminAll * m;
            for (int ii = 0; ii < 32; ii++)
            {
                int l = NearestInt((x[32 * j + ii] + dm) / d);
                L[32 * j + ii] = (byte)Math.Max(0, Math.Min(15, l));
            }
        }
        byte* q = y + 16;
        for (int j = 0; j < 256; j += 64, q += 32)
            for (int l = 0; l < 32; l++) q[l] = (byte)(L[j + l] | (L[j + l + 32] << 4));
    }

    /// <summary>The 6-bit (scale, min) pair <paramref name="j"/> of Q4_K's and Q5_K's 12 packed bytes (ggml's get_scale_min_k4).</summary>
    public static void ScaleMinK4(byte* packed, int j, out int scale, out int min)
    {
        if (j < 4)
        {
            scale = packed[j] & 63;
            min = packed[j + 4] & 63;
        }
        else
        {
            scale = (packed[j + 4] & 0xF) | (packed[j - 4] >> 6) << 4;
            min = (packed[j + 4] >> 4) | (packed[j] >> 6) << 4;
        }
    }

    static float MakeQkx2Quants(int n, int nmax, float* x, float* weights, byte* L, out float theMin, byte* laux, float rmin, float rdelta, int nstep)
    {
        float min = x[0], max = x[0];
        float sumW = weights[0], sumX = sumW * x[0];
        for (int i = 1; i < n; i++)
        {
            if (x[i] < min) min = x[i];
            if (x[i] > max) max = x[i];
            float w = weights[i];
            sumW += w;
            sumX += w * x[i];
        }
        if (min > 0) min = 0;
        if (max == min)
        {
            for (int i = 0; i < n; i++) L[i] = 0;
            theMin = -min;
            return 0f;
        }
        float iscale = nmax / (max - min);
        float scale = 1 / iscale;
        float bestError = 0;
        for (int i = 0; i < n; i++)
        {
            int l = NearestInt(iscale * (x[i] - min));
            L[i] = (byte)Math.Max(0, Math.Min(nmax, l));
            float diff = scale * L[i] + min - x[i];
            diff *= diff;
            bestError += weights[i] * diff;
        }
        for (int step = 0; step <= nstep; step++)
        {
            iscale = (rmin + rdelta * step + nmax) / (max - min);
            float sumL = 0, sumL2 = 0, sumXL = 0;
            for (int i = 0; i < n; i++)
            {
                int l = NearestInt(iscale * (x[i] - min));
                l = Math.Max(0, Math.Min(nmax, l));
                laux[i] = (byte)l;
                float w = weights[i];
                sumL += w * l;
                sumL2 += w * l * l;
                sumXL += w * l * x[i];
            }
            float D = sumW * sumL2 - sumL * sumL;
            if (D > 0)
            {
                float thisScale = (sumW * sumXL - sumX * sumL) / D;
                float thisMin = (sumL2 * sumX - sumL * sumXL) / D;
                if (thisMin > 0)
                {
                    thisMin = 0;
                    thisScale = sumXL / sumL2;
                }
                float curError = 0;
                for (int i = 0; i < n; i++)
                {
                    float diff = thisScale * laux[i] + thisMin - x[i];
                    diff *= diff;
                    curError += weights[i] * diff;
                }
                if (curError < bestError)
                {
                    for (int i = 0; i < n; i++) L[i] = laux[i];
                    bestError = curError;
                    scale = thisScale;
                    min = thisMin;
                }
            }
        }
        theMin = -min;
        return scale;
    }
}
