using System.Text.Json;
using Satflow.TestSupport;

namespace Satflow.Lightning.Tests.Wire;

/// <summary>Loads official vector files as one xunit case per entry (a missing file fails, never skips).</summary>
internal static class BoltVectors
{
    public static TheoryData<string, string> Cases(string file, string? arrayProperty = null)
    {
        using var document = JsonDocument.Parse(TestVectors.ReadText(file));
        var array = arrayProperty is null ? document.RootElement : document.RootElement.GetProperty(arrayProperty);
        var data = new TheoryData<string, string>();
        var index = 0;
        foreach (var entry in array.EnumerateArray())
        {
            var name = entry.TryGetProperty("name", out var n) ? n.GetString()! : $"#{index}";
            data.Add($"{index:D2} {name}", entry.GetRawText());
            index++;
        }
        return data;
    }

    public static int Count(string file, string? arrayProperty = null) => Cases(file, arrayProperty).Count();
}
