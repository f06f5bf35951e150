using System.Text;
using CsCheck;
using Satflow.Lightning.Onion;

namespace Satflow.Lightning.Tests.Onion;

public sealed class ChaCha20Tests
{
    private static readonly byte[] RfcKey = Convert.FromHexString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");

    [Fact]
    public void Rfc8439_2_3_2_BlockFunction()
    {
        var nonce = Convert.FromHexString("000000090000004a00000000");
        var block = new byte[64];
        ChaCha20.Block(RfcKey, 1, nonce, block);
        Assert.Equal(
            "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e" +
            "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e",
            Convert.ToHexStringLower(block));
    }

    [Fact]
    public void Rfc8439_2_4_2_Encryption()
    {
        var nonce = Convert.FromHexString("000000000000004a00000000");
        var plaintext = Encoding.ASCII.GetBytes(
            "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.");
        var ciphertext = new byte[plaintext.Length];
        ChaCha20.Xor(RfcKey, nonce, 1, plaintext, ciphertext);
        Assert.Equal(
            "6e2e359a2568f98041ba0728dd0d6981e97e7aec1d4360c20a27afccfd9fae0b" +
            "f91b65c5524733ab8f593dabcd62b3571639d624e65152ab8f530c359f0861d8" +
            "07ca0dbf500d6a6156a38e088a22b65e52bc514d16ccf806818ce91ab7793736" +
            "5af90bbf74a35be6b40b8eedf2785e42874d",
            Convert.ToHexStringLower(ciphertext));
        var decrypted = new byte[ciphertext.Length];
        ChaCha20.Xor(RfcKey, nonce, 1, ciphertext, decrypted);
        Assert.Equal(plaintext, decrypted);
    }

    [Fact]
    public void MatchesTheBclAeadKeyStream()
    {
        // ChaCha20-Poly1305 encrypts with the ChaCha20 stream starting at block 1: our counter-1 stream must agree.
        Gen.Select(Gen.Byte.Array[32], Gen.Byte.Array[12], Gen.Byte.Array[0, 300]).Sample((key, nonce, plaintext) =>
        {
            var expected = new byte[plaintext.Length];
            using (var aead = new System.Security.Cryptography.ChaCha20Poly1305(key))
            {
                aead.Encrypt(nonce, plaintext, expected, new byte[16]);
            }
            var actual = new byte[plaintext.Length];
            ChaCha20.Xor(key, nonce, 1, plaintext, actual);
            Assert.Equal(expected, actual);
        }, iter: 50);
    }

    [Fact]
    public void KeyStreamIsZeroNonceCounterZero()
    {
        var key = Convert.FromHexString("2f36bb8822e1f0d04c27b7d8bb7d7dd586e032a3218b8d414afbba6f169a4d68");
        var stream = ChaCha20.KeyStream(key, 130);
        var block0 = new byte[64];
        var block2 = new byte[64];
        ChaCha20.Block(key, 0, new byte[12], block0);
        ChaCha20.Block(key, 2, new byte[12], block2);
        Assert.Equal(block0, stream[..64]);
        Assert.Equal(block2[..2], stream[128..]);
    }

    [Fact]
    public void RejectsBadLengths()
    {
        Assert.Throws<ArgumentException>(() => ChaCha20.KeyStream(new byte[31], 10));
        Assert.Throws<ArgumentException>(() => ChaCha20.Xor(new byte[32], new byte[8], 0, new byte[4], new byte[4]));
        Assert.Throws<ArgumentException>(() => ChaCha20.Xor(new byte[32], new byte[12], 0, new byte[4], new byte[3]));
    }
}
