//! The fast path for VPC Flow Logs entries (Cloud Logging entries around a `jsonPayload`):
//! reads the envelope and the payload fields a [`Payload`] holds straight from the line and
//! skips the rest, then hands them to the same conversion as the serde decoder.
//!
//! An entry is left to serde ([`Unusual`]) when it has no `jsonPayload` (a bare payload), holds
//! a key or a read string with an escape, a repeated key (aliases included), a value of an
//! unexpected type, a counter or time the serde decoder might read otherwise, the fields of
//! traffic leaving the VPC or reaching Google services (`*_location`, `*_google_service`,
//! `network_service`, `internet_routing_details`), a Service list (`service`), or anything
//! that is not valid JSON. `null` is read as serde reads it: an absent value. Structs are
//! built with every field named, so a field added to them does not compile until this path
//! reads it.

use serde_json::{Number, Value};

use super::{
    Connection, GkeCluster, GkeDetails, GkePod, GkeWorkload, Instance, InstanceGroup, Payload, Vpc,
};
use crate::ingest::cloud_logging::{scan_entry, LogEntry};
use crate::ingest::scan::{once, Scan, Scanner, Unusual};
use crate::ingest::value::{Text, TimeValue, U64Value};

/// Reads one entry and its payload, or `None` when it is left to the serde decoder.
pub(super) fn scan(line: &[u8]) -> Option<(LogEntry<'_, Payload<'_>>, Payload<'_>)> {
    let text = std::str::from_utf8(line).ok()?;
    let mut s = Scanner::new(text);
    let (entry, payload) = scan_entry(&mut s, payload, |_, _| Ok(false)).ok()?;
    s.end().ok()?;
    Some((entry, payload?))
}

fn payload<'a>(s: &mut Scanner<'a>) -> Scan<Payload<'a>> {
    let (mut connection, mut reporter, mut disposition) = (None, None, None);
    let (mut bytes_sent, mut packets_sent) = (None, None);
    let (mut rtt_msec, mut round_trip_time) = (None, None);
    let (mut start_time, mut end_time) = (None, None);
    let (mut src_instance, mut dest_instance) = (None, None);
    let (mut src_gke_details, mut dest_gke_details) = (None, None);
    let (mut src_vpc, mut dest_vpc) = (None, None);
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "connection" => {
                once(&mut seen, 0)?;
                connection = s.optional(raw_connection)?;
            }
            "reporter" => {
                once(&mut seen, 1)?;
                reporter = s.optional(Text::scan)?;
            }
            "disposition" => {
                once(&mut seen, 2)?;
                disposition = s.optional(Text::scan)?;
            }
            "bytes_sent" => {
                once(&mut seen, 3)?;
                bytes_sent = s.optional(U64Value::scan)?;
            }
            "packets_sent" => {
                once(&mut seen, 4)?;
                packets_sent = s.optional(U64Value::scan)?;
            }
            "rtt_msec" => {
                once(&mut seen, 5)?;
                rtt_msec = s.optional(number_or_text)?;
            }
            "round_trip_time" => {
                once(&mut seen, 6)?;
                round_trip_time = s.optional(number_or_text)?;
            }
            "start_time" => {
                once(&mut seen, 7)?;
                start_time = s.optional(TimeValue::scan)?;
            }
            "end_time" => {
                once(&mut seen, 8)?;
                end_time = s.optional(TimeValue::scan)?;
            }
            "src_instance" => {
                once(&mut seen, 9)?;
                src_instance = s.optional(instance)?;
            }
            "dest_instance" => {
                once(&mut seen, 10)?;
                dest_instance = s.optional(instance)?;
            }
            "src_gke_details" => {
                once(&mut seen, 11)?;
                src_gke_details = s.optional(gke_details)?;
            }
            "dest_gke_details" => {
                once(&mut seen, 12)?;
                dest_gke_details = s.optional(gke_details)?;
            }
            "src_vpc" => {
                once(&mut seen, 13)?;
                src_vpc = s.optional(vpc)?;
            }
            "dest_vpc" => {
                once(&mut seen, 14)?;
                dest_vpc = s.optional(vpc)?;
            }
            // Read by serde: rare in a cluster's logs, and read leniently there.
            "src_google_service"
            | "dest_google_service"
            | "src_location"
            | "dest_location"
            | "network_service"
            | "internet_routing_details" => {
                if !s.null()? {
                    return Err(Unusual);
                }
            }
            _ => s.skip()?,
        }
    }
    Ok(Payload {
        connection,
        reporter,
        disposition,
        bytes_sent,
        packets_sent,
        rtt_msec,
        round_trip_time,
        start_time,
        end_time,
        src_instance,
        dest_instance,
        src_gke_details,
        dest_gke_details,
        src_vpc,
        dest_vpc,
        src_google_service: None,
        dest_google_service: None,
        src_location: None,
        dest_location: None,
        network_service: None,
        internet_routing_details: None,
    })
}

/// A value kept as a `serde_json::Value`, for the shapes the logs write: a string or a plain
/// integer.
fn number_or_text(s: &mut Scanner<'_>) -> Scan<Value> {
    if s.next_byte()? == b'"' {
        return Ok(Value::String(s.string()?.to_string()));
    }
    Ok(Value::Number(Number::from(s.u64()?)))
}

fn raw_connection<'a>(s: &mut Scanner<'a>) -> Scan<Connection<'a>> {
    let (mut src_ip, mut dest_ip, mut src_port, mut dest_port) = (None, None, None, None);
    let mut protocol = None;
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "src_ip" => {
                once(&mut seen, 0)?;
                src_ip = s.optional(Text::scan)?;
            }
            "dest_ip" => {
                once(&mut seen, 1)?;
                dest_ip = s.optional(Text::scan)?;
            }
            "src_port" => {
                once(&mut seen, 2)?;
                src_port = s.optional(U64Value::scan)?;
            }
            "dest_port" => {
                once(&mut seen, 3)?;
                dest_port = s.optional(U64Value::scan)?;
            }
            "protocol" => {
                once(&mut seen, 4)?;
                protocol = s.optional(number_or_text)?;
            }
            _ => s.skip()?,
        }
    }
    Ok(Connection {
        src_ip,
        dest_ip,
        src_port,
        dest_port,
        protocol,
    })
}

fn instance<'a>(s: &mut Scanner<'a>) -> Scan<Instance<'a>> {
    let (mut vm_name, mut project_id, mut zone, mut region) = (None, None, None, None);
    let mut managed_instance_group = None;
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        let (at, field) = match key {
            "vm_name" => (0, &mut vm_name),
            "project_id" => (1, &mut project_id),
            "zone" => (2, &mut zone),
            "region" => (3, &mut region),
            "managed_instance_group" => {
                once(&mut seen, 4)?;
                managed_instance_group = s.optional(instance_group)?;
                continue;
            }
            _ => {
                s.skip()?;
                continue;
            }
        };
        once(&mut seen, at)?;
        *field = s.optional(Text::scan)?;
    }
    Ok(Instance {
        vm_name,
        project_id,
        zone,
        region,
        managed_instance_group,
    })
}

fn instance_group<'a>(s: &mut Scanner<'a>) -> Scan<InstanceGroup<'a>> {
    let mut name = None;
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "name" => {
                once(&mut seen, 0)?;
                name = s.optional(Text::scan)?;
            }
            _ => s.skip()?,
        }
    }
    Ok(InstanceGroup { name })
}

fn vpc<'a>(s: &mut Scanner<'a>) -> Scan<Vpc<'a>> {
    let (mut project_id, mut vpc_name) = (None, None);
    let (mut subnetwork_name, mut subnetwork_region) = (None, None);
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        let (at, field) = match key {
            "project_id" => (0, &mut project_id),
            "vpc_name" => (1, &mut vpc_name),
            "subnetwork_name" => (2, &mut subnetwork_name),
            "subnetwork_region" => (3, &mut subnetwork_region),
            _ => {
                s.skip()?;
                continue;
            }
        };
        once(&mut seen, at)?;
        *field = s.optional(Text::scan)?;
    }
    Ok(Vpc {
        project_id,
        vpc_name,
        subnetwork_name,
        subnetwork_region,
    })
}

fn gke_details<'a>(s: &mut Scanner<'a>) -> Scan<GkeDetails<'a>> {
    let (mut cluster, mut pod) = (None, None);
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "cluster" => {
                once(&mut seen, 0)?;
                cluster = s.optional(gke_cluster)?;
            }
            "pod" => {
                once(&mut seen, 1)?;
                pod = s.optional(gke_pod)?;
            }
            // A Service or a list of them: read by serde.
            "service" => {
                if !s.null()? {
                    return Err(Unusual);
                }
            }
            _ => s.skip()?,
        }
    }
    Ok(GkeDetails {
        cluster,
        pod,
        service: None,
    })
}

fn gke_cluster<'a>(s: &mut Scanner<'a>) -> Scan<GkeCluster<'a>> {
    let mut cluster_name = None;
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "cluster_name" => {
                once(&mut seen, 0)?;
                cluster_name = s.optional(Text::scan)?;
            }
            _ => s.skip()?,
        }
    }
    Ok(GkeCluster { cluster_name })
}

fn gke_pod<'a>(s: &mut Scanner<'a>) -> Scan<GkePod<'a>> {
    let (mut pod_name, mut pod_namespace) = (None, None);
    let (mut pod_workload, mut workload) = (None, None);
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "pod_name" => {
                once(&mut seen, 0)?;
                pod_name = s.optional(Text::scan)?;
            }
            "pod_namespace" => {
                once(&mut seen, 1)?;
                pod_namespace = s.optional(Text::scan)?;
            }
            "pod_workload" => {
                once(&mut seen, 2)?;
                pod_workload = s.optional(gke_workload)?;
            }
            "workload" => {
                once(&mut seen, 3)?;
                workload = s.optional(gke_workload)?;
            }
            _ => s.skip()?,
        }
    }
    Ok(GkePod {
        pod_name,
        pod_namespace,
        pod_workload,
        workload,
    })
}

fn gke_workload<'a>(s: &mut Scanner<'a>) -> Scan<GkeWorkload<'a>> {
    let (mut workload_name, mut workload_type) = (None, None);
    let mut seen = 0;
    let mut members = s.object()?;
    while let Some(key) = s.key(&mut members)? {
        match key {
            "workload_name" | "name" => {
                once(&mut seen, 0)?;
                workload_name = s.optional(Text::scan)?;
            }
            "workload_type" | "type" => {
                once(&mut seen, 1)?;
                workload_type = s.optional(Text::scan)?;
            }
            _ => s.skip()?,
        }
    }
    Ok(GkeWorkload {
        workload_name,
        workload_type,
    })
}
