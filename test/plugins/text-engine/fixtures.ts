/**
 * Conversations shared by the text-engine prompt and output tests: grps-trtllm's get_current_weather
 * function-calling round trip (shared/seeds/001: user asks, model calls, tool answers, model replies).
 */
import type { ChatMessage } from '../../../core/tokenizer/tokenizer.js';

export const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_current_weather',
    description: 'Get the current weather in a given location',
    parameters: {
      type: 'object',
      properties: { location: { type: 'string', description: 'The city, e.g. Beijing' } },
      required: ['location'],
    },
  },
};

/** WEATHER_TOOL as one compact JSON object, written out by hand. */
export const WEATHER_TOOL_COMPACT =
  '{"type":"function","function":{"name":"get_current_weather","description":"Get the current weather in a given location",' +
  '"parameters":{"type":"object","properties":{"location":{"type":"string","description":"The city, e.g. Beijing"}},' +
  '"required":["location"]}}}';

/** WEATHER_TOOL.function as 4-space-indented JSON, written out by hand. */
export const WEATHER_FUNCTION_INDENTED = `{
    "name": "get_current_weather",
    "description": "Get the current weather in a given location",
    "parameters": {
        "type": "object",
        "properties": {
            "location": {
                "type": "string",
                "description": "The city, e.g. Beijing"
            }
        },
        "required": [
            "location"
        ]
    }
}`;

export const QUESTION = "What's the weather like in Beijing today?";
export const TOOL_RESULT = '{"temperature": 22, "unit": "celsius"}';

export const SYSTEM_AND_USER: ChatMessage[] = [
  { role: 'system', content: 'You are a weather bot.' },
  { role: 'user', content: 'Hello' },
];

export const ASK: ChatMessage[] = [{ role: 'user', content: QUESTION }];

/** The user asks, the assistant called the tool (OpenAI shape: null content), the tool answered. */
export const ROUND_TRIP: ChatMessage[] = [
  { role: 'user', content: QUESTION },
  {
    role: 'assistant',
    content: null,
    tool_calls: [
      { id: 'call_abc', type: 'function', function: { name: 'get_current_weather', arguments: '{"location":"Beijing"}' } },
    ],
  },
  { role: 'tool', tool_call_id: 'call_abc', content: TOOL_RESULT },
];

/** Deterministic ids for tests that compare two parses. */
export function counterIds(prefix = 'call_test'): () => string {
  let n = 0;
  return () => `${prefix}${n++}`;
}
