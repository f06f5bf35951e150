using System.Text.Json;
using CsCheck;
using Satflow.Lightning.Codecs;
using Satflow.Lightning.Invoices;
using Satflow.Lightning.Offers;
using Satflow.Lightning.Wire;
using Satflow.TestSupport;

namespace Satflow.Lightning.Tests.Offers;

/// <summary>Random and mutated BOLT 12 input only ever produces <see cref="InvoiceFormatException"/>.</summary>
public sealed class Bolt12PropertyTests
{
    private static readonly string[] ValidOffers = [.. JsonDocument.Parse(TestVectors.ReadText("bolts/bolt12/offers-test.json")).RootElement
        .EnumerateArray().Where(e => e.GetProperty("valid").GetBoolean()).Select(e => e.GetProperty("bolt12").GetString()!)];

    private static readonly byte[][] SignedMessages =
    [
        Bech32.WordsToBytes(Bech32.Decode(JsonDocument.Parse(TestVectors.ReadText("bolts/bolt12/signature-test.json")).RootElement[3].GetProperty("bolt12").GetString()!, null).Words),
        Bolt12Invoice.CreateSigned(Bolt12MessageTests.SampleOffer, Bolt12MessageTests.SampleRequest, Bolt12MessageTests.SampleInvoice, Bolt12MessageTests.AliceKey).Records.ToBytes(),
    ];

    private static void Typed(Action action)
    {
        try
        {
            action();
        }
        catch (InvoiceFormatException ex)
        {
            Assert.False(string.IsNullOrEmpty(ex.Reason));
        }
    }

    private static void DecodeAll(byte[] bytes)
    {
        Typed(() => Offer.FromBytes(bytes));
        Typed(() => InvoiceRequest.FromBytes(bytes));
        Typed(() => Bolt12Invoice.FromBytes(bytes));
    }

    [Fact]
    public void RandomBytesGiveOnlyTypedErrors() => Gen.Byte.Array[0, 600].Sample(DecodeAll, iter: 3000, threads: 1);

    private static readonly Gen<ulong> InterestingType = Gen.OneOf<ulong>(
        Gen.OneOf<ulong>(0UL, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 80, 82, 84, 86, 88, 89, 90, 91, 160, 162, 164, 166, 168, 170, 172, 174, 176, 240),
        Gen.ULong[0, 300], Gen.OneOf<ulong>(1_000_000_001UL, 2_000_000_001, 3_000_000_001));

    [Fact]
    public void RandomWellFormedTlvStreamsGiveOnlyTypedErrors() =>
        // Valid TLV framing with random values drives every field parser and validation rule.
        Gen.Select(InterestingType, Gen.Byte.Array[0, 120]).Array[0, 12]
            .Sample(records =>
            {
                var unique = records.GroupBy(r => r.Item1).Select(g => new TlvRecord(g.Key, g.First().Item2));
                DecodeAll(new TlvStream(unique).ToBytes());
            }, iter: 3000, threads: 1);

    [Fact]
    public void MutatedOfferStringsGiveOnlyTypedErrors() =>
        Gen.Select(Gen.Int[0, ValidOffers.Length - 1], Gen.Int[0, 2000], Gen.Char[Bech32.Charset + "1+ \nLNO"], Gen.Int[0, 3])
            .Sample((index, position, replacement, mode) =>
            {
                var text = ValidOffers[index];
                var at = position % text.Length;
                var mutated = mode switch
                {
                    0 => text[..at] + replacement + text[(at + 1)..],
                    1 => text[..at],
                    2 => text.Insert(at, replacement.ToString()),
                    _ => text.Remove(at, 1),
                };
                Typed(() => Bolt12Message.Decode(mutated));
            }, iter: 3000, threads: 1);

    [Fact]
    public void MutatedSignedMessagesGiveOnlyTypedErrors() =>
        Gen.Select(Gen.Int[0, SignedMessages.Length - 1], Gen.Int[0, 5000], Gen.Byte, Gen.Int[0, 2])
            .Sample((index, position, value, mode) =>
            {
                var bytes = SignedMessages[index].ToList();
                var at = position % bytes.Count;
                switch (mode)
                {
                    case 0: bytes[at] ^= (byte)(value | 1); break;
                    case 1: bytes.RemoveRange(at, bytes.Count - at); break;
                    default: bytes.Insert(at, value); break;
                }
                DecodeAll([.. bytes]);
            }, iter: 400, threads: 1);
}
