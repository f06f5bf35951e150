using CsCheck;
using NBitcoin.Secp256k1;
using HMACSHA256 = System.Security.Cryptography.HMACSHA256;
using SHA256 = System.Security.Cryptography.SHA256;
using Satflow.Lightning.Onion;
using Satflow.Lightning.Types;
using Satflow.Lightning.Wire;
using static Satflow.Lightning.Tests.Onion.OnionVectorSupport;

namespace Satflow.Lightning.Tests.Onion;

/// <summary>Random and mutated input into every onion decoder: only typed errors escape, nothing hangs.</summary>
public sealed class OnionPropertyTests
{
    private const string OnionFile = "bolts/bolt04/onion-test.json";

    private static readonly ECPrivKey NodeKey = Priv("4141414141414141414141414141414141414141414141414141414141414141");

    private static byte[] ValidOnion() => Load(OnionFile).HexOf("onion");

    private static byte[] AssociatedData() => Load(OnionFile).GetProperty("generate").HexOf("associated_data");

    /// <summary>Runs <paramref name="action"/> and fails unless it returns or throws a <see cref="WireFormatException"/>.</summary>
    private static void OnlyTypedErrors(Action action)
    {
        try
        {
            action();
        }
        catch (WireFormatException)
        {
        }
    }

    [Fact]
    public void RandomBytesIntoParseAndPeel()
    {
        Gen.Byte.Array[0, 1500].Sample(bytes =>
        {
            OnlyTypedErrors(() => OnionPacket.Parse(bytes).Peel(NodeKey, []));
            OnlyTypedErrors(() => OnionPacket.ParsePayment(bytes).Peel(NodeKey, []));
        }, iter: 300);
    }

    [Fact]
    public void RandomPacketsOfPaymentSizeFailWithBadOnionCodes()
    {
        Gen.Byte.Array[OnionPacket.PaymentPacketLength].Sample(bytes =>
        {
            bytes[0] = 0;
            var error = Assert.Throws<OnionException>(() => OnionPacket.ParsePayment(bytes).Peel(NodeKey, AssociatedData()));
            Assert.True(error.FailureCode.IsBadOnion);
            Assert.NotNull(error.Sha256OfOnion);
            Assert.Equal(new Bytes32(SHA256.HashData(bytes)), error.Sha256OfOnion);
        }, iter: 100);
    }

    [Fact]
    public void BitFlippedValidOnionIsRejected()
    {
        var valid = ValidOnion();
        Gen.Int[0, (valid.Length * 8) - 1].Sample(bit =>
        {
            var bytes = (byte[])valid.Clone();
            bytes[bit / 8] ^= (byte)(1 << (bit % 8));
            var error = Assert.Throws<OnionException>(() => OnionPacket.ParsePayment(bytes).Peel(NodeKey, AssociatedData()));
            Assert.True(error.FailureCode.IsBadOnion, error.FailureCode.Name);
        }, iter: 200);
    }

    [Fact]
    public void TruncatedValidOnionIsRejected()
    {
        var valid = ValidOnion();
        Gen.Int[0, valid.Length - 1].Sample(length =>
        {
            var bytes = valid.AsSpan(0, length).ToArray();
            Assert.ThrowsAny<WireFormatException>(() => OnionPacket.ParsePayment(bytes));
            // As a variable-size packet it parses when long enough, but the HMAC then fails.
            OnlyTypedErrors(() => OnionPacket.Parse(bytes).Peel(NodeKey, AssociatedData()));
        }, iter: 200);
    }

    /// <summary>
    /// Authenticated garbage: hop payloads whose HMAC is right but whose decrypted framing is random, so the length
    /// parsing after the HMAC check is exercised.
    /// </summary>
    [Fact]
    public void AuthenticatedRandomPayloadsFailOnlyWithInvalidOnionPayload()
    {
        var ephemeral = Priv("0101010101010101010101010101010101010101010101010101010101010101").CreatePubKey();
        var secret = SphinxCrypto.SharedSecret(ephemeral, NodeKey);
        var rho = SphinxCrypto.GenerateKey(SphinxCrypto.Rho, secret).ToArray();
        var mu = SphinxCrypto.GenerateKey(SphinxCrypto.Mu, secret).ToArray();
        Gen.Select(Gen.Byte.Array[OnionPacket.PaymentPayloadsLength], Gen.Int[0, 4]).Sample((plain, shape) =>
        {
            // Bias the first bytes towards interesting length prefixes.
            switch (shape)
            {
                case 0: plain[0] = 0; break;
                case 1: plain[0] = 1; break;
                case 2: plain[0] = 0xfd; plain[1] = 0x05; plain[2] = 0x00; break;
                case 3: plain[0] = 0xfe; break;
            }
            var payloads = (byte[])plain.Clone();
            ChaCha20.XorInPlace(rho, payloads);
            var packet = new OnionPacket(0, SphinxCrypto.Compress(ephemeral), payloads, new Bytes32(HMACSHA256.HashData(mu, payloads)));
            try
            {
                var peeled = packet.Peel(NodeKey, []);
                Assert.Equal(secret, peeled.SharedSecret);
                Assert.True(peeled.Payload.Length >= 2);
                OnlyTypedErrors(() => PaymentOnionPayload.Decode(peeled.Payload.Span));
            }
            catch (OnionException e)
            {
                Assert.Equal(FailureCode.InvalidOnionPayload, e.FailureCode);
            }
        }, iter: 200);
    }

    [Fact]
    public void RandomBytesIntoPayloadDecoders()
    {
        Gen.Byte.Array[0, 400].Sample(bytes =>
        {
            OnlyTypedErrors(() => PaymentOnionPayload.Decode(bytes));
            OnlyTypedErrors(() => EncryptedDataTlv.Decode(bytes));
            OnlyTypedErrors(() => OnionMessagePayload.Decode(bytes));
            OnlyTypedErrors(() => BlindedPath.Parse(bytes));
            OnlyTypedErrors(() => FailureMessage.Decode(bytes));
            OnlyTypedErrors(() => OnionMessage.Decode(bytes));
        }, iter: 2000);
    }

    [Fact]
    public void PaymentPayloadErrorsAreAlwaysOnionExceptions()
    {
        Gen.Byte.Array[0, 200].Sample(bytes =>
        {
            try
            {
                PaymentOnionPayload.Decode(bytes);
            }
            catch (OnionException e)
            {
                Assert.Equal(FailureCode.InvalidOnionPayload, e.FailureCode);
            }
        }, iter: 1000);
    }

    [Fact]
    public void RandomFailurePacketsAndAttributionIntoDecrypt()
    {
        var secrets = Enumerable.Range(1, 5).Select(i => new Bytes32(Enumerable.Repeat((byte)i, 32).ToArray())).ToList();
        Gen.Select(Gen.Byte.Array[0, 1200], Gen.Byte.Array[0, 1000], Gen.Bool).Sample((packet, attribution, fullSize) =>
        {
            var data = fullSize ? attribution.Concat(new byte[AttributionData.Length]).Take(AttributionData.Length).ToArray() : attribution;
            OnlyTypedErrors(() =>
            {
                var result = FailurePacket.Decrypt(packet, data, secrets);
                Assert.False(result.IsDecrypted);
                Assert.True(result.HoldTimes.Count <= secrets.Count);
            });
            OnlyTypedErrors(() => AttributionData.UnwrapSuccess(data, secrets, out _));
        }, iter: 200);
    }

    [Fact]
    public void AuthenticatedRandomFailureBodiesOpenOrFailTyped()
    {
        var secret = new Bytes32(Enumerable.Repeat((byte)3, 32).ToArray());
        var um = SphinxCrypto.GenerateKey(SphinxCrypto.Um, secret).ToArray();
        Gen.Byte.Array[0, 600].Sample(body =>
        {
            var packet = HMACSHA256.HashData(um, body).Concat(body).ToArray();
            OnlyTypedErrors(() => FailurePacket.TryOpen(packet, secret));
            var wrapped = FailurePacket.Wrap(packet, secret);
            OnlyTypedErrors(() => FailurePacket.Decrypt(wrapped, [], [secret]));
        }, iter: 300);
    }

    [Fact]
    public void MutatedVectorErrorPacketStillDecodesTypedOrNot()
    {
        var trace = Load("bolts/bolt04-errors-trace.json").GetProperty("returning_errors");
        var packet = trace.GetProperty("forwarding")[4].HexOf("error_packet");
        var attribution = trace.GetProperty("forwarding")[4].HexOf("attribution_data");
        var secrets = trace.GetProperty("forwarding").EnumerateArray().Reverse().Select(s => s.B32("shared_secret")).ToList();
        Gen.Select(Gen.Int[0, packet.Length - 1], Gen.Int[0, attribution.Length - 1]).Sample((i, j) =>
        {
            var p = (byte[])packet.Clone();
            var a = (byte[])attribution.Clone();
            p[i] ^= 0x40;
            a[j] ^= 0x02;
            OnlyTypedErrors(() =>
            {
                var result = FailurePacket.Decrypt(p, a, secrets);
                // Any flipped bit of the failure packet breaks the erring node's HMAC.
                Assert.False(result.IsDecrypted);
            });
        }, iter: 100);
    }

    [Fact]
    public void RandomRoutesRoundTrip()
    {
        var keys = Enumerable.Range(1, 6).Select(i => Priv(Convert.ToHexString(Enumerable.Repeat((byte)(0x10 + i), 32).ToArray()))).ToArray();
        Gen.Select(Gen.Int[1, 6], Gen.Byte.Array[2, 150].Array[6], Gen.Byte.Array[32]).Sample((count, payloads, sessionBytes) =>
        {
            if (!ECPrivKey.TryCreate(sessionBytes, out var session) || session is null)
            {
                return;
            }
            var hops = Enumerable.Range(0, count).Select(i => new OnionHop(keys[i].CreatePubKey(), payloads[i])).ToList();
            var built = OnionPacket.Create(session, hops, new byte[] { 1, 2, 3 });
            var packet = OnionPacket.ParsePayment(built.Packet.ToBytes());
            for (var i = 0; i < count; i++)
            {
                var peeled = packet.Peel(keys[i], new byte[] { 1, 2, 3 });
                Assert.Equal(payloads[i], peeled.Payload.ToArray());
                Assert.Equal(built.SharedSecrets[i], peeled.SharedSecret);
                Assert.Equal(i == count - 1, peeled.IsFinal);
                packet = peeled.NextPacket ?? packet;
            }
        }, iter: 8);
    }

    [Fact]
    public void RandomFailuresAreAttributedToTheRightHop()
    {
        Gen.Select(Gen.Int[1, 27], Gen.Int[0, 26], Gen.Byte.Array[32]).Sample((count, failing, seed) =>
        {
            failing %= count;
            var secrets = Enumerable.Range(0, count).Select(i => new Bytes32(SHA256.HashData([.. seed, (byte)i]))).ToList();
            var message = FailureMessage.FinalIncorrectCltvExpiry((uint)(failing + 1));
            var packet = FailurePacket.Create(secrets[failing], message);
            byte[] attribution = [];
            for (var node = failing; node >= 0; node--)
            {
                attribution = AttributionData.Create(attribution, packet, (uint)(node + 10), secrets[node]);
                packet = FailurePacket.Wrap(packet, secrets[node]);
            }
            var result = FailurePacket.Decrypt(packet, attribution, secrets);
            Assert.Equal(failing, result.FailingHopIndex);
            Assert.Equal((uint)(failing + 1), result.Message!.CltvExpiry);
            Assert.Null(result.AttributionFailedAtHop);
            var attributed = Math.Min(failing + 1, AttributionData.MaxHops);
            Assert.Equal(Enumerable.Range(0, attributed).Select(i => (uint)(i + 10)), result.HoldTimes);
        }, iter: 30);
    }

    [Fact]
    public void UnbackedLengthFieldsDoNotDriveAllocation()
    {
        // Each input claims a 65535-byte field but carries a few bytes: decoding must fail without allocating it.
        byte[][] inputs =
        [
            Convert.FromHexString("1007ffff0102"), // temporary_channel_failure, channel_update len 65535
            Convert.FromHexString("0201" + "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619" + "ffff00"), // onion_message len 65535
            Convert.FromHexString("02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619" +
                "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619" + "01" +
                "02eec7245d6b7d2ccb30380bfbe2a3648cd7a942653f5aa340edcea1f283686619" + "ffff01"), // blinded hop enclen 65535
            Convert.FromHexString("0aff00000000ffffffff01"), // encrypted_recipient_data claiming 2^32-1 bytes
        ];
        Action<byte[]>[] decoders =
        [
            b => FailureMessage.Decode(b),
            b => OnionMessage.Decode(b),
            b => BlindedPath.Parse(b),
            b => PaymentOnionPayload.Decode(b),
        ];
        for (var i = 0; i < inputs.Length; i++)
        {
            // A first run warms up the JIT so only the decoding itself is measured.
            Assert.ThrowsAny<WireFormatException>(() => decoders[i](inputs[i]));
            var before = GC.GetAllocatedBytesForCurrentThread();
            Assert.ThrowsAny<WireFormatException>(() => decoders[i](inputs[i]));
            var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(allocated < 16_000, $"decoder {i} allocated {allocated} bytes");
        }
    }
}
