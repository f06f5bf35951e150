using System.Text.Json;
using CsCheck;
using Satflow.Lightning.Codecs;
using Satflow.Lightning.Invoices;
using Satflow.TestSupport;

namespace Satflow.Lightning.Tests.Invoices;

/// <summary>Random and mutated input only ever produces <see cref="InvoiceFormatException"/>.</summary>
public sealed class Bolt11PropertyTests
{
    private static readonly string[] ValidInvoices = [.. JsonDocument.Parse(TestVectors.ReadText("bolts/bolt11-valid.json")).RootElement
        .GetProperty("examples").EnumerateArray().Select(e => e.GetProperty("invoice").GetString()!)];

    private static void DecodeOrTypedError(string text)
    {
        try
        {
            var invoice = Bolt11Invoice.Decode(text);
            Assert.NotNull(invoice.Encoded);
        }
        catch (InvoiceFormatException ex)
        {
            Assert.False(string.IsNullOrEmpty(ex.Reason));
        }
    }

    private static readonly Gen<char> InvoiceChar = Gen.OneOf(Gen.Char[Bech32.Charset], Gen.Char["1lnbcrtsLNBC"], Gen.Char['!', '~'], Gen.Char['\u0080', '\u30ff']);

    [Fact]
    public void RandomStringsGiveOnlyTypedErrors() =>
        InvoiceChar.Array[0, 400].Select(c => new string(c)).Sample(DecodeOrTypedError, iter: 3000, threads: 1);

    [Fact]
    public void RandomDataAfterAValidPrefixGivesOnlyTypedErrors() =>
        Gen.Select(Gen.OneOf("lnbc", "lntb", "lnbcrt", "lntbs", "lnbc2500u", "lnbc1p", "lnbc0n"), Gen.Char[Bech32.Charset].Array[0, 300])
            .Select((hrp, data) => hrp + "1" + new string(data))
            .Sample(DecodeOrTypedError, iter: 2000, threads: 1);

    [Fact]
    public void CharacterSubstitutionsAndTruncationsGiveOnlyTypedErrors() =>
        Gen.Select(Gen.Int[0, ValidInvoices.Length - 1], Gen.Int[0, 1000], Gen.Char[Bech32.Charset + "1xX+ "], Gen.Int[0, 2])
            .Sample((index, position, replacement, mode) =>
            {
                var text = ValidInvoices[index];
                var at = position % text.Length;
                var mutated = mode switch
                {
                    0 => text[..at] + replacement + text[(at + 1)..],
                    1 => text[..at],
                    _ => text.Remove(at, 1),
                };
                DecodeOrTypedError(mutated);
            }, iter: 1500, threads: 1);

    [Fact]
    public void MutatedWordsWithAFreshChecksumGiveOnlyTypedErrors() =>
        // Re-computing the checksum lets mutations reach the field parsers and the signature check.
        Gen.Select(Gen.Int[0, ValidInvoices.Length - 1], Gen.Int[0, 1000], Gen.Byte[0, 31], Gen.Int[0, 3])
            .Sample((index, position, word, mode) =>
            {
                var (hrp, words) = Bech32.Decode(ValidInvoices[index], Bech32Variant.Bech32);
                var list = words.ToList();
                var at = position % list.Count;
                switch (mode)
                {
                    case 0: list[at] = word; break;
                    case 1: list.RemoveAt(at); break;
                    case 2: list.Insert(at, word); break;
                    default: list.RemoveRange(at, list.Count - at); break;
                }
                DecodeOrTypedError(Bech32.Encode(hrp, [.. list]));
            }, iter: 400, threads: 1);

    [Fact]
    public void MutatedHumanReadablePartsGiveOnlyTypedErrors() =>
        Gen.Select(Gen.Int[0, ValidInvoices.Length - 1], Gen.String[Gen.Char["0123456789munpxbctrs"], 0, 40])
            .Sample((index, amount) =>
            {
                var (_, words) = Bech32.Decode(ValidInvoices[index], Bech32Variant.Bech32);
                DecodeOrTypedError(Bech32.Encode("lnbc" + amount, words));
            }, iter: 400, threads: 1);
}
